import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AllocUpdate } from '../../api/index.ts';
import { silentLogger } from '../../lib/index.ts';
import { FakeClock } from '../../testing/index.ts';
import { StatusReporter } from './reporter.ts';
import { BerthError } from '../../model/index.ts';

const update = (id: string, clientStatus: AllocUpdate['clientStatus']): AllocUpdate => ({ id, clientStatus, taskStates: {} });

/** A send function whose calls the test answers one by one. */
function fakeServer(): { send: (u: AllocUpdate[]) => Promise<unknown>; calls: { batch: string[]; ok: () => void; fail: (e: Error) => void }[]; nextCall: () => Promise<void> } {
  const calls: { batch: string[]; ok: () => void; fail: (e: Error) => void }[] = [];
  let wake = (): void => {};
  return {
    calls,
    send: (batch) =>
      new Promise((resolve, reject) => {
        calls.push({ batch: batch.map((u) => `${u.id}:${u.clientStatus}`), ok: () => resolve(undefined), fail: reject });
        wake();
      }),
    nextCall: () => new Promise<void>((resolve) => (wake = resolve)),
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('StatusReporter', () => {
  it('sends updates raised in the same tick together', async () => {
    const server = fakeServer();
    const r = new StatusReporter({ send: server.send, logger: silentLogger() });
    r.push(update('a', 'pending'));
    r.push(update('b', 'pending'));
    r.push(update('a', 'running'));
    await tick();
    assert.deepEqual(server.calls.map((c) => c.batch), [['a:running', 'b:pending']]);
    server.calls[0].ok();
    await r.flush();
  });

  it('coalesces updates pushed while a send is in flight into the next send, latest per allocation', async () => {
    const server = fakeServer();
    const r = new StatusReporter({ send: server.send, logger: silentLogger() });
    r.push(update('a', 'pending'));
    await tick();
    r.push(update('a', 'running'));
    r.push(update('b', 'pending'));
    r.push(update('b', 'running'));
    r.push(update('a', 'complete'));
    await tick();
    assert.equal(server.calls.length, 1, 'one request at a time');
    const second = server.nextCall();
    server.calls[0].ok();
    await second;
    assert.deepEqual(server.calls[1].batch, ['a:complete', 'b:running']);
    server.calls[1].ok();
    await r.flush();
    assert.equal(server.calls.length, 2);
  });

  it('retries a failed send and loses nothing but the states superseded meanwhile', async () => {
    const server = fakeServer();
    const clock = new FakeClock();
    const r = new StatusReporter({ send: server.send, logger: silentLogger(), clock });
    r.push(update('a', 'pending'));
    r.push(update('c', 'running'));
    await tick();
    r.push(update('a', 'running'));
    const retry = server.nextCall();
    server.calls[0].fail(new Error('connection refused'));
    await tick();
    assert.equal(server.calls.length, 1, 'no retry before the backoff');
    await clock.run(1_000, 50);
    await retry;
    assert.deepEqual(server.calls[1].batch, ['a:running', 'c:running'], 'c is sent again, the old a is not');
    server.calls[1].ok();
    await r.flush();
    assert.equal(server.calls.length, 2);
  });

  it('flush resolves only once the sends in flight and those queued behind them are done', async () => {
    const server = fakeServer();
    const r = new StatusReporter({ send: server.send, logger: silentLogger() });
    r.push(update('a', 'pending'));
    let flushed = false;
    void r.flush().then(() => (flushed = true));
    await tick();
    r.push(update('a', 'running'));
    const second = server.nextCall();
    server.calls[0].ok();
    await second;
    assert.equal(flushed, false, 'a second send is still due');
    server.calls[1].ok();
    await tick();
    assert.equal(flushed, true);
  });

  it('sends nothing more once closed', async () => {
    const server = fakeServer();
    const r = new StatusReporter({ send: server.send, logger: silentLogger() });
    r.close();
    r.push(update('a', 'running'));
    await tick();
    await r.flush();
    assert.equal(server.calls.length, 0);
  });
});

test('a batch the server refuses as invalid is dropped, and later reports still go out', async () => {
  const sent: string[][] = [];
  let calls = 0;
  const reporter = new StatusReporter({
    send: async (updates) => {
      calls++;
      if (calls === 1) throw new BerthError('invalid_input', 'Invalid request body: allocs[0].taskStates.x.driver: must be docker or process');
      sent.push(updates.map((u) => u.id));
    },
    logger: silentLogger(),
  });
  reporter.push({ id: 'bad', clientStatus: 'running', taskStates: {} });
  await reporter.flush();
  reporter.push({ id: 'good', clientStatus: 'running', taskStates: {} });
  await reporter.flush();
  assert.equal(calls, 2, 'the refused batch is not retried');
  assert.deepEqual(sent, [['good']]);
});
