import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EndpointPool } from './endpoint-pool.ts';

const a = { id: 'a', host: '127.0.0.1', port: 1 };
const b = { id: 'b', host: '127.0.0.1', port: 2 };
const c = { id: 'c', host: '127.0.0.1', port: 3 };

function picks(pool: EndpointPool, n: number): string[] {
  return Array.from({ length: n }, () => pool.pick()!.id);
}

test('round robin takes each endpoint in turn', () => {
  const pool = new EndpointPool();
  pool.setEndpoints([a, b, c]);
  assert.deepEqual(picks(pool, 6), ['a', 'b', 'c', 'a', 'b', 'c']);
});

test('least connections sends new connections to the endpoint holding the fewest', () => {
  const pool = new EndpointPool({ policy: 'least-connections' });
  pool.setEndpoints([a, b]);
  pool.acquire('a');
  pool.acquire('a');
  assert.deepEqual(picks(pool, 3), ['b', 'b', 'b']);
  pool.acquire('b');
  pool.acquire('b');
  pool.acquire('b');
  assert.equal(pool.pick()!.id, 'a');
});

test('an endpoint failing N connects in a row is ejected, for longer each time, then returns', () => {
  let now = 1_000_000;
  const pool = new EndpointPool({ outlier: { consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionMs: 2500 }, clock: { now: () => now } });
  pool.setEndpoints([a, b]);
  assert.equal(pool.reportFailure('b'), false);
  pool.reportSuccess('b');
  assert.equal(pool.reportFailure('b'), false, 'a success ends the streak');
  assert.equal(pool.reportFailure('b'), false);
  assert.equal(pool.reportFailure('b'), true, 'the third in a row ejects');
  assert.deepEqual(picks(pool, 4), ['a', 'a', 'a', 'a']);
  now += 1000;
  assert.ok(picks(pool, 4).includes('b'), 'back after the base ejection time');
  for (let i = 0; i < 3; i++) pool.reportFailure('b');
  now += 1999;
  assert.ok(!picks(pool, 4).includes('b'), 'a second ejection lasts twice as long');
  now += 1;
  for (let i = 0; i < 3; i++) pool.reportFailure('b');
  now += 2499;
  assert.ok(!picks(pool, 4).includes('b'), 'a third lasts up to the maximum');
  now += 1;
  assert.ok(picks(pool, 4).includes('b'));
  assert.equal(pool.ejections, 3);
});

test('when every endpoint is ejected it still picks among them', () => {
  const pool = new EndpointPool({ outlier: { consecutiveFailures: 1 } });
  pool.setEndpoints([a]);
  pool.reportFailure('a');
  assert.equal(pool.pick()?.id, 'a');
});

test('setEndpoints keeps the state of endpoints that stay and returns the removed or moved ones', () => {
  const pool = new EndpointPool({ policy: 'least-connections' });
  pool.setEndpoints([a, b, c]);
  pool.acquire('a');
  const removed = pool.setEndpoints([a, { ...b, port: 9 }]);
  assert.deepEqual(removed.map((e) => e.id).sort(), ['b', 'c']);
  assert.equal(pool.stats().find((s) => s.endpoint.id === 'a')!.active, 1);
  assert.equal(pool.stats().find((s) => s.endpoint.id === 'b')!.endpoint.port, 9);
});

test('pick skips the endpoints already tried and returns nothing when all were', () => {
  const pool = new EndpointPool();
  pool.setEndpoints([a, b]);
  assert.equal(pool.pick(new Set(['a']))!.id, 'b');
  assert.equal(pool.pick(new Set(['a', 'b'])), undefined);
  assert.equal(new EndpointPool().pick(), undefined);
});
