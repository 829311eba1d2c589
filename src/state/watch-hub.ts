/**
 * In-process watch fan-out for the local backends: filters each committed revision for every
 * watcher and delivers batches asynchronously, one revision at a time, in revision order.
 */
import { selects } from './backend.ts';
import type { KeySelector, WatchBatch, WatchCallback, WatchEvent, Watcher } from './backend.ts';

interface HubWatchOptions {
  fromRevision: number;
  prevKv: boolean;
  onError?: (err: Error) => void;
}

/** The watchers of one backend. */
export class WatchHub {
  private readonly watchers = new Set<HubWatch>();

  /** Register a watcher; it receives revisions from `options.fromRevision` on. */
  add(selector: KeySelector, callback: WatchCallback, options: HubWatchOptions): HubWatch {
    const watch = new HubWatch(this, selector, callback, options);
    this.watchers.add(watch);
    return watch;
  }

  /** Fan out one committed revision. Events carry prevKv; watchers that did not ask lose it. */
  publish(revision: number, events: WatchEvent[]): void {
    for (const watch of this.watchers) watch.offer({ revision, events });
  }

  /** Stop every watcher, as when the backend closes. */
  cancelAll(): void {
    for (const watch of [...this.watchers]) watch.cancel();
  }

  /** @internal */
  remove(watch: HubWatch): void {
    this.watchers.delete(watch);
  }
}

/** One watcher: a filter and a queue drained in a microtask. */
class HubWatch implements Watcher {
  private queue: WatchBatch[] = [];
  private scheduled = false;
  private canceled = false;

  constructor(
    private readonly hub: WatchHub,
    private readonly selector: KeySelector,
    private readonly callback: WatchCallback,
    private readonly options: HubWatchOptions,
  ) {}

  /** Queue the part of a revision this watcher selects, if any. */
  offer(batch: WatchBatch): void {
    if (this.canceled || batch.revision < this.options.fromRevision) return;
    const events: WatchEvent[] = [];
    for (const e of batch.events) {
      if (!selects(this.selector, e.kv.key)) continue;
      events.push(this.options.prevKv || !e.prevKv ? e : { type: e.type, kv: e.kv });
    }
    if (events.length === 0) return;
    this.queue.push({ revision: batch.revision, events });
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  cancel(): void {
    this.canceled = true;
    this.queue = [];
    this.hub.remove(this);
  }

  private flush(): void {
    this.scheduled = false;
    const batches = this.queue;
    this.queue = [];
    for (const batch of batches) {
      if (this.canceled) return;
      try {
        this.callback(batch);
      } catch (err) {
        reportError(err, this.options.onError);
      }
    }
  }
}

/** Hands an error to `onError`, or rethrows it outside the current call stack so it is not lost. */
export function reportError(err: unknown, onError: ((err: Error) => void) | undefined): void {
  const error = err instanceof Error ? err : new Error(String(err));
  if (onError) onError(error);
  else
    queueMicrotask(() => {
      throw error;
    });
}
