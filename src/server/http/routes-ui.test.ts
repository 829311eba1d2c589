import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync, brotliCompressSync, gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { uiRoutes } from './routes-ui.ts';

async function builtUi(): Promise<{ dir: string; app: FastifyInstance }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-ui-'));
  await mkdir(path.join(dir, 'assets'));
  const files: Record<string, string> = { 'index.html': '<!doctype html><div id="root"></div>', 'assets/index-abc123.js': 'console.log("berth")' };
  for (const [name, text] of Object.entries(files)) {
    await writeFile(path.join(dir, name), text);
    await writeFile(path.join(dir, `${name}.gz`), gzipSync(text));
    await writeFile(path.join(dir, `${name}.br`), brotliCompressSync(text));
  }
  const app = Fastify();
  await app.register(uiRoutes(dir));
  return { dir, app };
}

test('the UI is served at /ui/: / redirects there, assets are immutable and precompressed, index.html is not cached', async (t) => {
  const { dir, app } = await builtUi();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = await app.inject({ url: '/' });
  assert.equal(root.statusCode, 302);
  assert.equal(root.headers.location, '/ui/');

  const asset = await app.inject({ url: '/ui/assets/index-abc123.js', headers: { 'accept-encoding': 'gzip, deflate, br' } });
  assert.equal(asset.statusCode, 200);
  assert.equal(asset.headers['content-encoding'], 'br');
  assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.match(String(asset.headers['content-type']), /^text\/javascript/);

  const gzip = await app.inject({ url: '/ui/assets/index-abc123.js', headers: { 'accept-encoding': 'gzip' } });
  assert.equal(gzip.headers['content-encoding'], 'gzip');
  assert.equal(gunzipSync(gzip.rawPayload).toString(), 'console.log("berth")');
  const plain = await app.inject({ url: '/ui/assets/index-abc123.js' });
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.body, 'console.log("berth")');

  const page = await app.inject({ url: '/ui/' });
  assert.equal(page.headers['cache-control'], 'no-cache');
  assert.match(page.body, /id="root"/);
});

test('a deep link answers the page, a missing asset a 404', async (t) => {
  const { dir, app } = await builtUi();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const deep = await app.inject({ url: '/ui/jobs/web?tab=versions' });
  assert.equal(deep.statusCode, 200);
  assert.match(deep.body, /id="root"/);
  assert.equal(deep.headers['cache-control'], 'no-cache');
  const missing = await app.inject({ url: '/ui/assets/index-old.js' });
  assert.equal(missing.statusCode, 404);
  assert.match(missing.json().error.message, /no such file in this build; reload the page/);
});

test('without a built UI, /ui/ says how to build it', async () => {
  const app = Fastify();
  await app.register(uiRoutes(null));
  const res = await app.inject({ url: '/ui/' });
  assert.equal(res.statusCode, 404);
  assert.match(res.json().error.message, /npm run build/);
});
