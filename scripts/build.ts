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
 * The web UI (src/ui) is built by Vite into dist/ui at the same time, and each of its files is
 * then compressed ahead of time (gzip and brotli, beside the file) so a server answers with the
 * smallest one the browser takes and never compresses per request (server/http/routes-ui.ts).
 *
 *   node scripts/build.ts [--watch]   (--watch rebuilds the server side only; the UI: npx vite src/ui)
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
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

/** Where the UI is built to; the server serves this folder at /ui/. */
export const UI_DIR = path.join(root, 'dist/ui');

/** Files not worth compressing: already compressed formats. */
const INCOMPRESSIBLE = /\.(png|jpe?g|gif|webp|woff2?|gz|br)$/;

/** Build the UI with Vite, then write a .gz and a .br beside each file that compresses. */
export async function buildUi(): Promise<number> {
  const vite = await import('vite');
  await vite.build({ configFile: path.join(root, 'src/ui/vite.config.ts'), logLevel: 'warn' });
  const files = (await readdir(UI_DIR, { recursive: true, withFileTypes: true })).filter((f) => f.isFile() && !INCOMPRESSIBLE.test(f.name));
  const gzip = promisify(zlib.gzip);
  const brotli = promisify(zlib.brotliCompress);
  await Promise.all(
    files.map(async (f) => {
      const file = path.join(f.parentPath, f.name);
      const data = await readFile(file);
      await writeFile(`${file}.gz`, await gzip(data, { level: 9 }));
      await writeFile(`${file}.br`, await brotli(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length } }));
    }),
  );
  return files.length;
}

if (import.meta.main) {
  const started = Date.now();
  await rm(path.join(root, 'dist'), { recursive: true, force: true });
  if (process.argv.includes('--watch')) {
    const ctx = await esbuild.context(options);
    await ctx.watch();
  } else {
    const [result, uiFiles] = await Promise.all([esbuild.build({ ...options, metafile: true }), buildUi()]);
    const files = Object.keys(result.metafile.outputs).length;
    process.stdout.write(`build: ${files} files in dist/, ${uiFiles} in dist/ui (${Date.now() - started} ms)\n`);
  }
}
