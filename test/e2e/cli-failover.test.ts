import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { MemoryBackend } from '../../src/state/index.ts';
import { Server } from '../../src/server/index.ts';
import { silentLogger } from '../../src/lib/index.ts';
import { berth, freePort } from '../harness/berth.ts';

async function serve(t: TestContext): Promise<string> {
  const server = await Server.start({ backend: new MemoryBackend(), logger: silentLogger(), port: 0 });
  t.after(() => server.stop());
  return server.url;
}

/** An address nothing listens on. */
async function dead(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

describe('the CLI with several servers in BERTH_ADDR', () => {
  it('goes past a server that does not answer, for the typed client and the Consul-shaped routes alike', async (t) => {
    const addr = `${await dead()},${await serve(t)}`;
    assert.equal((await berth(['kv', 'put', 'cfg/a', 'one'], { addr })).code, 0);
    assert.equal((await berth(['kv', 'get', 'cfg/a'], { addr })).stdout, 'one\n');
    const services = await berth(['service', 'list'], { addr });
    assert.equal(services.code, 0, services.stderr);
    assert.match(services.stdout, /No services registered/);
    const jobs = await berth(['job', 'status'], { addr });
    assert.equal(jobs.code, 0, jobs.stderr);
  });

  it('fails with exit 1 naming every address tried when none answers', async () => {
    const [a, b] = [await dead(), await dead()];
    for (const args of [['job', 'status'], ['kv', 'get', 'x'], ['service', 'list'], ['event', 'stream']]) {
      const r = await berth(args, { addr: `${a},${b}` });
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /^Error: Cannot reach any berth server: tried /, args.join(' '));
      assert.ok(r.stderr.includes(`${a} (ECONNREFUSED)`) && r.stderr.includes(`${b} (ECONNREFUSED)`), r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });
});
