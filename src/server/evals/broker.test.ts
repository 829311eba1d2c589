import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { FakeClock, mockEval } from '../../testing/index.ts';
import { EvalBroker, type Delivery } from './broker.ts';

/** An enabled broker, as the leader runs it. */
function enabledBroker(deliveryLimit?: number): EvalBroker {
  const broker = new EvalBroker({ deliveryLimit });
  broker.enable();
  return broker;
}

/** Whether a promise has settled by the next turn of the event loop, and with what. */
async function settledNow<T>(p: Promise<T>): Promise<{ settled: boolean; value?: T }> {
  const marker = Symbol('pending');
  const value = await Promise.race([p, tick().then(() => marker)]);
  return value === marker ? { settled: false } : { settled: true, value: value as T };
}

/** A signal that aborts after `ms` (AbortSignal.timeout's timer would not keep the test alive). */
function after(ms: number): AbortSignal {
  const abort = new AbortController();
  setTimeout(() => abort.abort(), ms);
  return abort.signal;
}

async function take(broker: EvalBroker): Promise<Delivery> {
  const d = await broker.dequeue();
  assert.ok(d, 'expected a delivery');
  return d;
}

describe('eval broker', () => {
  it('hands out evaluations highest priority first, and the older first at equal priority', async () => {
    const broker = enabledBroker();
    const low = mockEval({ jobId: 'batch', priority: 10, createTime: 1 });
    const high = mockEval({ jobId: 'api', priority: 90, createTime: 3 });
    const midNewer = mockEval({ jobId: 'web', priority: 50, createTime: 5 });
    const midOlder = mockEval({ jobId: 'db', priority: 50, createTime: 2 });
    for (const e of [low, midNewer, high, midOlder]) broker.enqueue(e);

    const order: string[] = [];
    for (let i = 0; i < 4; i++) order.push((await take(broker)).evaluation.jobId);
    assert.deepEqual(order, ['api', 'db', 'web', 'batch']);
  });

  it('keeps one evaluation of a job in flight: the next one waits until the first is acked', async () => {
    const broker = enabledBroker();
    broker.enqueue(mockEval({ jobId: 'web', createTime: 1 }));
    const first = await take(broker);
    const second = mockEval({ jobId: 'web', createTime: 2 });
    broker.enqueue(second);
    const other = mockEval({ jobId: 'db', createTime: 3 });
    broker.enqueue(other);

    // Another job is not held up by web's evaluation in flight.
    assert.equal((await take(broker)).evaluation.id, other.id);
    const waiting = broker.dequeue();
    assert.equal((await settledNow(waiting)).settled, false);
    assert.deepEqual([broker.readyCount, broker.inFlightCount], [1, 2]);

    broker.ack(first);
    const next = await settledNow(waiting);
    assert.equal(next.settled, true);
    assert.equal(next.value?.evaluation.id, second.id);
  });

  it('coalesces evaluations of a job queued meanwhile into the next pass, led by the newest', async () => {
    const broker = enabledBroker();
    broker.enqueue(mockEval({ jobId: 'web', createTime: 1 }));
    const first = await take(broker);
    const e2 = mockEval({ jobId: 'web', createTime: 2 });
    const e3 = mockEval({ jobId: 'web', createTime: 3 });
    const e4 = mockEval({ jobId: 'web', createTime: 4 });
    broker.enqueue(e3);
    broker.enqueue(e2);
    broker.enqueue(e4);
    broker.ack(first);

    const next = await take(broker);
    assert.equal(next.evaluation.id, e4.id);
    assert.deepEqual(next.coalesced.map((e) => e.id).sort(), [e2.id, e3.id].sort());
    assert.equal(broker.readyCount, 0);
  });

  it('ignores an evaluation enqueued again while it is in flight, so it is not processed twice', async () => {
    const broker = enabledBroker();
    const e = mockEval({ jobId: 'web' });
    broker.enqueue(e);
    const d = await take(broker);
    broker.enqueue(e);
    broker.ack(d);
    assert.equal(broker.readyCount, 0);
    assert.equal(await broker.dequeue(after(20)), null);
  });

  it('redelivers a nacked evaluation with its coalesced ones until the delivery limit, then gives up', async () => {
    const broker = enabledBroker(3);
    broker.enqueue(mockEval({ jobId: 'web', createTime: 1 }));
    broker.ack(await take(broker));
    const older = mockEval({ jobId: 'web', createTime: 2 });
    const lead = mockEval({ jobId: 'web', createTime: 3 });
    broker.enqueue(older);
    broker.enqueue(lead);

    const outcomes: [number, boolean][] = [];
    for (let i = 0; i < 3; i++) {
      const d = await take(broker);
      assert.equal(d.evaluation.id, lead.id);
      assert.deepEqual(d.coalesced.map((e) => e.id), [older.id]);
      outcomes.push([d.attempt, broker.nack(d)]);
    }
    assert.deepEqual(outcomes, [[1, true], [2, true], [3, false]]);
    assert.deepEqual([broker.readyCount, broker.inFlightCount], [0, 0]);
    assert.equal(await broker.dequeue(after(20)), null);
  });

  it('wakes every waiting worker with null when disabled, and hands out nothing afterwards', async () => {
    const broker = enabledBroker();
    const waiting = [broker.dequeue(), broker.dequeue()];
    assert.equal((await settledNow(waiting[0])).settled, false);
    broker.disable();
    assert.deepEqual(await Promise.all(waiting), [null, null]);

    broker.enqueue(mockEval());
    assert.equal(broker.readyCount, 0);
    assert.equal(await broker.dequeue(), null);
  });

  it('drops what was pending when disabled, and starts empty when enabled again', async () => {
    const broker = enabledBroker();
    broker.enqueue(mockEval({ jobId: 'web' }));
    broker.disable();
    broker.enable();
    assert.equal(broker.readyCount, 0);
    const fresh = mockEval({ jobId: 'web' });
    broker.enqueue(fresh);
    assert.equal((await take(broker)).evaluation.id, fresh.id);
  });

  it('answers null to a dequeue whose signal is already aborted, leaving the work queued', async () => {
    const broker = enabledBroker();
    const e = mockEval();
    broker.enqueue(e);
    assert.equal(await broker.dequeue(AbortSignal.abort()), null);
    assert.equal(broker.readyCount, 1);
    assert.equal((await take(broker)).evaluation.id, e.id);
  });

  it('answers null when the signal aborts while waiting, and the next evaluation goes to another worker', async () => {
    const broker = enabledBroker();
    const abort = new AbortController();
    const aborted = broker.dequeue(abort.signal);
    const other = broker.dequeue();
    abort.abort();
    assert.equal(await aborted, null);

    const e = mockEval();
    broker.enqueue(e);
    assert.equal((await other)?.evaluation.id, e.id);
  });
});

describe('eval broker: delayed evaluations', () => {
  it('holds an evaluation until its waitUntil, then hands it out', async () => {
    const clock = new FakeClock(1_000);
    const broker = new EvalBroker({ clock });
    broker.enable();
    broker.enqueue(mockEval({ id: 'later', jobId: 'j', waitUntil: 1_040 }));
    assert.equal(broker.readyCount, 0);
    assert.equal(broker.delayedCount, 1);
    clock.advance(39);
    assert.equal(broker.readyCount, 0, 'not before its time');
    clock.advance(1);
    const delivery = await broker.dequeue(after(1_000));
    assert.equal(delivery?.evaluation.id, 'later');
    broker.disable();
  });
});
