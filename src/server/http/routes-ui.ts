/**
 * The web UI (src/ui, built by scripts/build.ts into dist/ui): `GET /ui/*` answers its files,
 * `GET /` redirects there. Assets are named by content hash, so they are cached for a year as
 * immutable; `index.html` is never cached, so a new build is picked up on the next load. Each file
 * has a gzip and a brotli twin written at build time; the smallest one the browser accepts goes.
 * A path that is no file (`/ui/jobs/web`) answers `index.html`: the UI's router draws it.
 *
 * Written here rather than with @fastify/static: the files are a few dozen fixed at build time, read
 * once into memory, and choosing a precompressed twin by Accept-Encoding is a lookup; the plugin
 * would add a file-system walk per request and its send/glob dependencies to every server's start.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { BerthError } from '../../model/index.ts';
import { PUBLIC } from './route-acl.ts';

/** One file of the UI, with its precompressed twins. */
interface UiFile {
  type: string;
  raw: Buffer;
  gzip?: Buffer;
  brotli?: Buffer;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/** Where the built UI is: beside the bundle (dist/ui from dist/*.js), or dist/ui of the checkout when run from the sources. */
export function defaultUiDir(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'ui'), path.resolve(here, '../../../dist/ui')];
  return candidates.find((dir) => existsSync(path.join(dir, 'index.html')));
}

/** Every file under `dir` by its path under /ui/ (`assets/index-3f2a.js`), twins attached. */
function loadFiles(dir: string): Map<string, UiFile> {
  const files = new Map<string, UiFile>();
  const entries = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && !/\.(gz|br)$/.test(e.name));
  for (const e of entries) {
    const full = path.join(e.parentPath, e.name);
    const twin = (ext: string): Buffer | undefined => (existsSync(full + ext) ? readFileSync(full + ext) : undefined);
    const rel = path.relative(dir, full).split(path.sep).join('/');
    files.set(rel, { type: TYPES[path.extname(e.name)] ?? 'application/octet-stream', raw: readFileSync(full), gzip: twin('.gz'), brotli: twin('.br') });
  }
  return files;
}

/** Send a file in the best encoding the request accepts. */
function sendFile(request: FastifyRequest, reply: FastifyReply, file: UiFile, cache: string): FastifyReply {
  const accepts = String(request.headers['accept-encoding'] ?? '');
  void reply.header('content-type', file.type).header('cache-control', cache).header('vary', 'accept-encoding');
  // The UI's own pages get no framing by other sites and load nothing from elsewhere.
  void reply.header('x-frame-options', 'DENY').header('x-content-type-options', 'nosniff');
  if (file.brotli && /\bbr\b/.test(accepts)) return reply.header('content-encoding', 'br').send(file.brotli);
  if (file.gzip && /\bgzip\b/.test(accepts)) return reply.header('content-encoding', 'gzip').send(file.gzip);
  return reply.send(file.raw);
}

const IMMUTABLE = 'public, max-age=31536000, immutable';
const NO_CACHE = 'no-cache';

/** The UI's routes; `dir` is the built UI (default `defaultUiDir()`); with null, /ui/ says how to build it. */
export function uiRoutes(dir: string | null = defaultUiDir() ?? null): FastifyPluginAsync {
  return async (app) => {
    let files: Map<string, UiFile> | undefined;
    const serve = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      if (!dir) {
        const err = new BerthError('not_found', 'Cannot show the web UI: this berth was built without it (no dist/ui); run `npm run build` in its checkout');
        return reply.status(404).send(err.toJSON());
      }
      files ??= loadFiles(dir);
      const rel = (request.params as { '*'?: string })['*'] ?? '';
      const file = files.get(rel);
      if (file && rel !== 'index.html') return sendFile(request, reply, file, rel.startsWith('assets/') ? IMMUTABLE : NO_CACHE);
      // A missing asset is a 404, never the page: a stale tab asking for an old chunk must fail loudly.
      if (rel.startsWith('assets/')) return reply.status(404).send(new BerthError('not_found', `Cannot GET /ui/${rel}: no such file in this build; reload the page`).toJSON());
      return sendFile(request, reply, files.get('index.html')!, NO_CACHE);
    };
    app.get('/', { config: PUBLIC }, async (_request, reply) => reply.redirect('/ui/'));
    app.get('/ui', { config: PUBLIC }, async (_request, reply) => reply.redirect('/ui/'));
    app.get('/ui/*', { config: PUBLIC }, serve);
  };
}
