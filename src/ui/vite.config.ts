/**
 * The UI's build (run by scripts/build.ts, not on its own): src/ui into dist/ui, assets named by
 * content hash under dist/ui/assets so the server can mark them immutable. The base is /ui/, where
 * every server serves them (server/http/routes-ui.ts).
 */
import path from 'node:path';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const here = import.meta.dirname;

export default defineConfig({
  root: here,
  base: '/ui/',
  plugins: [react()],
  logLevel: 'warn',
  build: {
    outDir: path.resolve(here, '../../dist/ui'),
    emptyOutDir: true,
    target: 'es2022',
    // The server precompresses; Vite's own gzip size report only costs build time.
    reportCompressedSize: false,
    chunkSizeWarningLimit: 600,
    rolldownOptions: {
      // api/'s request schemas (TypeBox) are for the server; the UI uses none of them, and a module
      // without side effects whose exports go unused is dropped.
      treeshake: { moduleSideEffects: (id: string) => !/src\/api\/schemas\.ts$|@sinclair\/typebox/.test(id) },
    },
  },
});
