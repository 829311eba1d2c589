/**
 * The build (`npm run build`; `npm ci` runs it through `prepare`): the TypeScript sources bundled
 * by esbuild into dist/, which bin/berth.js runs.
 *
 * Why a bundle and not tsc's file-per-file output: Node pays for every module file it loads, and
 * that, not running the code, is most of a command's start-up. @sinclair/typebox alone is 200
 * files: 118 ms to import here, 1 ms as one bundled file (bench/RESULTS.md, "cli"). Code splitting
 * keeps each command's code in its own chunks, so `berth job status` loads neither the server nor
 * the agent. Type checking stays with `tsc --noEmit` in `npm test`.
 *
 * Dependencies stay outside the bundle where bundling would break them: native addons, and
 * packages that read their own files at run time or start worker threads from a file path.
 *
 *   node scripts/build.ts [--watch]
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import * as esbuild from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');

/** Loaded from node_modules at run time, as installed. */
export const EXTERNAL = [
  'etcd3', // gRPC loads etcd's .proto files from its own folder
  'pino', // its transports (pino-pretty) run in worker threads started from file paths
  'pino-pretty',
  'dockerode', // ssh2 and its optional native cpu-features
  'handlebars', // require.extensions, for .hbs files
  '@fastify/ajv-compiler', // required on first use (src/server/http/lazy-compilers.ts)
  '@fastify/fast-json-stringify-compiler',
];

export const options: esbuild.BuildOptions = {
  absWorkingDir: root,
  // One entry a process: the CLI (which starts dev, server and agent) and the DNS worker process
  // (src/discovery/dns/cluster.ts forks it from the file beside its own chunk, so all sit in dist/).
  entryPoints: { main: 'src/cli/main.ts', worker: 'src/discovery/dns/worker.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  external: EXTERNAL,
  // Bundled CommonJS code calls require(), which an ES module lacks.
  banner: { js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);" },
  logLevel: 'warning',
};

if (import.meta.main) {
  const started = Date.now();
  await rm(path.join(root, 'dist'), { recursive: true, force: true });
  if (process.argv.includes('--watch')) {
    const ctx = await esbuild.context(options);
    await ctx.watch();
  } else {
    const result = await esbuild.build({ ...options, metafile: true });
    const files = Object.keys(result.metafile.outputs).length;
    process.stdout.write(`build: ${files} files in dist/ (${Date.now() - started} ms)\n`);
  }
}
