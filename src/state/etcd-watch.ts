/**
 * One StateBackend watch on etcd: its own gRPC watch stream, so a compaction or a cancel reaches
 * exactly this watch. Events are grouped into one batch per revision and handed to the callback
 * one at a time. A lost stream is opened again (on any member) from the next revision; when that
 * keeps failing the watch ends with `unavailable` and the caller re-lists.
 */
import type { IWatchRequest, IWatchResponse, WatchClient } from 'etcd3';
import { BerthError } from '../model/index.ts';
import { CompactedError } from './backend.ts';
import type { KeySelector, WatchBatch, WatchCallback, WatchEvent, WatchOptions, Watcher } from './backend.ts';
import { fromEtcdError, keyRange, toKeyValue } from './etcd-codec.ts';
import { reportError } from './watch-hub.ts';

/** Reconnect attempts of a lost watch stream before the watch fails, and the first pause. */
const RECONNECT_ATTEMPTS = 5;
const RECONNECT_FIRST_DELAY_MS = 100;
/** How long etcd may take to confirm a new watch before the attempt counts as failed. */
const CREATE_TIMEOUT_MS = 10_000;

type Stream = Awaited<ReturnType<WatchClient['watch']>>;

/** A running etcd watch; `start` settles once etcd has created it. */
export class EtcdWatch implements Watcher {
  private stream: Stream | undefined;
  /** Canceled by the caller: nothing more is delivered. */
  private canceled = false;
  /** Over (canceled, or failed for good): no stream is opened again. */
  private stopped = false;
  /** The first revision not yet received: where a reopened stream starts. */
  private next: number;
  /** Batches not yet handed to the callback, then possibly the error that ended the watch. */
  private readonly queue: (WatchBatch | Error)[] = [];
  private draining = false;
  private failures = 0;
  /** Whether etcd created the watch once: later stream losses are retried, earlier ones fail `start`. */
  private established = false;

  private readonly client: WatchClient;
  private readonly selector: KeySelector;
  private readonly callback: WatchCallback;
  private readonly options: WatchOptions;
  private readonly onCancel: (w: EtcdWatch) => void;

  constructor(watch: { client: WatchClient; selector: KeySelector; callback: WatchCallback; options: WatchOptions; onCancel: (w: EtcdWatch) => void }) {
    this.client = watch.client;
    this.selector = watch.selector;
    this.callback = watch.callback;
    this.options = watch.options;
    this.onCancel = watch.onCancel;
    this.next = watch.options.fromRevision || 0;
  }

  /** Open the stream and wait for etcd to create the watch; rejects when it cannot start. */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.open((err) => (err ? reject(err) : resolve()));
    });
  }

  cancel(): void {
    if (this.canceled) return;
    this.canceled = true;
    this.queue.length = 0;
    this.stop();
  }

  /** Close the stream for good and forget the watch. */
  private stop(): void {
    this.stopped = true;
    this.stream?.cancel();
    this.stream = undefined;
    this.onCancel(this);
  }

  /** Opens a stream from `next`; `created` hears once whether etcd created the watch. */
  private open(created: (err?: Error) => void): void {
    let settled = false;
    const settle = (err?: Error) => {
      if (!settled) {
        settled = true;
        created(err);
      }
    };
    this.client
      .watch()
      .then((stream) => {
        if (this.stopped) return stream.cancel();
        this.stream = stream;
        const timer = setTimeout(() => {
          if (stream === this.stream) this.lost(new Error(`etcd did not confirm the watch within ${CREATE_TIMEOUT_MS} ms`), settle);
        }, CREATE_TIMEOUT_MS);
        timer.unref();
        stream.on('data', (res: IWatchResponse) => {
          if (stream !== this.stream) return;
          clearTimeout(timer);
          if (res.created && !res.canceled) {
            this.failures = 0;
            this.established = true;
            if (this.next === 0) this.next = Number(res.header.revision) + 1;
            settle();
          } else this.receive(res, settle);
        });
        stream.on('error', (err: Error) => stream === this.stream && this.lost(err, settle));
        stream.on('end', () => stream === this.stream && this.lost(new Error('the watch stream ended'), settle));
        stream.write({ create_request: this.request() });
      })
      .catch((err: unknown) => this.lost(err instanceof Error ? err : new Error(String(err)), settle));
  }

  private request(): IWatchRequest['create_request'] {
    return { ...keyRange(this.selector), start_revision: this.next, prev_kv: this.options.prevKv ?? false, progress_notify: true };
  }

  private receive(res: IWatchResponse, settle: (err?: Error) => void): void {
    if (res.canceled) {
      const compacted = Number(res.compact_revision);
      const err = compacted > 0
        ? new CompactedError(this.next, compacted)
        : new BerthError('unavailable', `Cannot watch: etcd canceled the watch (${res.cancel_reason || 'no reason given'})`);
      this.stop();
      if (!this.established && !this.options.onError) return settle(err);
      settle();
      this.fail(err);
      return;
    }
    if (res.events.length === 0) {
      // A progress notification: every change up to the header's revision has been sent.
      this.next = Math.max(this.next, Number(res.header.revision) + 1);
      return;
    }
    for (const ev of res.events) {
      const revision = Number(ev.kv.mod_revision);
      const event: WatchEvent = { type: ev.type === 'Delete' ? 'delete' : 'put', kv: toKeyValue(ev.kv) };
      if (this.options.prevKv && ev.prev_kv) event.prevKv = toKeyValue(ev.prev_kv);
      const last = this.queue.at(-1);
      if (last && !(last instanceof Error) && last.revision === revision) last.events.push(event);
      else this.queue.push({ revision, events: [event] });
      this.next = revision + 1;
    }
    this.drain();
  }

  /** The stream broke: open it again from `next`, or give up and fail the watch. */
  private lost(err: Error, settle: (err?: Error) => void): void {
    this.stream?.cancel();
    this.stream = undefined;
    if (this.stopped) return;
    if (!this.established) {
      // Never created: report to the caller of `watch` rather than retrying behind its back.
      this.stop();
      settle(fromEtcdError(err, 'watch'));
      return;
    }
    this.failures++;
    if (this.failures > RECONNECT_ATTEMPTS) {
      this.stop();
      this.fail(fromEtcdError(err, `watch from revision ${this.next}`));
      return;
    }
    const timer = setTimeout(() => {
      if (!this.stopped) this.open(() => {});
    }, RECONNECT_FIRST_DELAY_MS * 2 ** (this.failures - 1));
    timer.unref();
  }

  /** End the watch with an error, reported after the batches already received. */
  private fail(err: Error): void {
    this.queue.push(err);
    this.drain();
  }

  /**
   * Hand every queued batch to the callback in one macrotask turn, in order (as the local
   * backends' hub does in one microtask): one turn per revision left a busy server's event loop
   * draining a write burst one revision per I/O round, so its view lagged etcd by the burst.
   */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    setImmediate(() => {
      this.draining = false;
      while (this.queue.length > 0 && !this.canceled) {
        const item = this.queue.shift()!;
        if (item instanceof Error) return reportError(item, this.options.onError);
        try {
          this.callback(item);
        } catch (err) {
          reportError(err, this.options.onError);
        }
      }
    });
  }
}
