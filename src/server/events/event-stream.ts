/**
 * The event stream: every change of the state, as topic events, derived from the backend's
 * revision log. A subscriber starts from now or resumes after an index: the backend's watch
 * replays history from there, so nothing is missed or repeated while history is kept.
 */
import { BerthError, type JobRun, type MarkedSuccess } from '../../model/index.ts';
import { CompactedError, STATE_PREFIX, TABLES, tablePrefix, type StateBackend, type Table, type WatchEvent, type Watcher } from '../../state/index.ts';
import { KV_DATA, KV_SESSIONS, KV_SESSION_ENDS } from '../../kv/index.ts';

/** The topics a subscriber may ask for. */
export const TOPICS = ['Job', 'Allocation', 'Deployment', 'Evaluation', 'Node', 'Service', 'KV', 'Session'] as const;
/** One topic. */
export type Topic = (typeof TOPICS)[number];

const TOPIC_OF: Partial<Record<Table, Topic>> = { jobs: 'Job', allocs: 'Allocation', deployments: 'Deployment', evals: 'Evaluation', nodes: 'Node', services: 'Service' };
const RUNS_PREFIX = tablePrefix('runs');
const ALLOCS_PREFIX = tablePrefix('allocs');

/** One change, Nomad's event shape. */
export interface StreamEvent {
  Topic: Topic;
  /**
   * `<Topic>Updated` or `<Topic>Deleted`; also `JobHeld` (a failed parent held a dependent job),
   * `JobMarkedSuccess` (a failed run marked successful: `{JobID, Run, AllocID?, By, At}`),
   * and for sessions `SessionCreated`, `SessionUpdated`, `SessionDestroyed`, `SessionInvalidated`.
   */
  Type: string;
  Key: string;
  Index: number;
  /** The object as written, or as it was before a delete, under its topic's name. */
  Payload: Record<string, unknown>;
}

/** The events of one revision. */
export interface StreamFrame {
  Index: number;
  Events: StreamEvent[];
}

/** Which events a subscriber wants: per topic, `*` or keys (a trailing `*` makes a prefix); a session matches by id or name. */
export type TopicFilter = Map<Topic, string[]>;

/** Parse `Topic:filter` strings (`Job:web`, `KV:cfg/*`, `Node`, `*`) into a filter. */
export function parseTopics(specs: string[]): TopicFilter {
  const filter: TopicFilter = new Map();
  if (specs.length === 0 || specs.includes('*') || specs.includes('*:*')) {
    for (const t of TOPICS) filter.set(t, ['*']);
    return filter;
  }
  for (const spec of specs) {
    const at = spec.indexOf(':');
    const topic = (at < 0 ? spec : spec.slice(0, at)) as Topic;
    const key = at < 0 ? '*' : spec.slice(at + 1) || '*';
    if (!TOPICS.includes(topic)) {
      throw new BerthError('invalid_input', `Cannot stream events: unknown topic "${topic}" (use one of ${TOPICS.join(', ')}, as Topic or Topic:key)`, [{ path: 'topic', message: 'unknown topic' }]);
    }
    filter.set(topic, [...(filter.get(topic) ?? []), key]);
  }
  return filter;
}

/** Whether the filter selects the event: by its key, or, for a session, by its name too. */
function wanted(filter: TopicFilter, e: StreamEvent): boolean {
  const keys = filter.get(e.Topic);
  if (!keys) return false;
  const names = [e.Key];
  if (e.Topic === 'Session') names.push(String((e.Payload.Session as { Name?: string } | null)?.Name ?? ''));
  return keys.some((k) => k === '*' || names.some((n) => k === n || (k.endsWith('*') && n.startsWith(k.slice(0, -1)))));
}

/**
 * A session created (a put of a new session key), updated, or ended: destroyed through the API or
 * invalidated (TTL, node, check), as the end marker written in the same revision says.
 */
function sessionEvent(ev: WatchEvent, revision: number, ends: ReadonlyMap<string, string>): StreamEvent {
  const id = ev.kv.key.slice(KV_SESSIONS.length);
  const row = ev.type === 'put' ? ev.kv.value : ev.prevKv?.value;
  const type = ev.type === 'put' ? (ev.prevKv ? 'SessionUpdated' : 'SessionCreated') : ends.get(id) === 'invalidated' ? 'SessionInvalidated' : 'SessionDestroyed';
  return { Topic: 'Session', Type: type, Key: id, Index: revision, Payload: { Session: row ? { ...(JSON.parse(row) as object), ID: id } : null } };
}

/** The end markers of a revision: session id -> reason. */
function sessionEnds(events: WatchEvent[]): Map<string, string> {
  const ends = new Map<string, string>();
  for (const ev of events) {
    if (ev.type === 'put' && ev.kv.key.startsWith(KV_SESSION_ENDS)) ends.set(ev.kv.key.slice(KV_SESSION_ENDS.length), (JSON.parse(ev.kv.value) as { reason: string }).reason);
  }
  return ends;
}

/**
 * A dependent job held by a failed parent: the run record written for it (once per failed parent
 * run, keyed by its end), as a Job event keyed by the held job. Other run rows make no event.
 */
function heldEvent(ev: WatchEvent, revision: number): StreamEvent | undefined {
  if (ev.type !== 'put' || ev.prevKv) return undefined;
  const run = JSON.parse(ev.kv.value) as JobRun;
  if (!run.heldBy) return undefined;
  const held = { JobID: run.jobId, Parent: run.heldBy.parent, FailedRun: run.heldBy.run, FailedAt: run.heldBy.failedAt, Reason: run.reason ?? '' };
  return { Topic: 'Job', Type: 'JobHeld', Key: run.jobId, Index: revision, Payload: { Held: held } };
}

/**
 * A failed run marked successful (`job mark-success`): a run record or an allocation that gained
 * `markedSuccess` in this change, as a Job event keyed by the job, with who and when.
 */
function markedEvent(ev: WatchEvent, revision: number): StreamEvent | undefined {
  if (ev.type !== 'put' || !ev.prevKv) return undefined;
  const key = ev.kv.key;
  if (!key.startsWith(RUNS_PREFIX) && !key.startsWith(ALLOCS_PREFIX)) return undefined;
  const row = JSON.parse(ev.kv.value) as { jobId: string; markedSuccess?: MarkedSuccess; childId?: string; id?: string };
  if (row.markedSuccess === undefined || (JSON.parse(ev.prevKv.value) as { markedSuccess?: unknown }).markedSuccess !== undefined) return undefined;
  const marked = { JobID: row.jobId, Run: row.childId ?? row.jobId, AllocID: row.id, By: row.markedSuccess.by, At: row.markedSuccess.at };
  return { Topic: 'Job', Type: 'JobMarkedSuccess', Key: row.jobId, Index: revision, Payload: { MarkedSuccess: marked } };
}

/** The topic event of one backend change, or undefined for keys no topic covers. */
function toEvent(ev: WatchEvent, revision: number, ends: ReadonlyMap<string, string>): StreamEvent | undefined {
  const key = ev.kv.key;
  if (key.startsWith(RUNS_PREFIX)) return heldEvent(ev, revision);
  if (key.startsWith(KV_SESSIONS)) return sessionEvent(ev, revision, ends);
  const row = ev.type === 'put' ? ev.kv.value : ev.prevKv?.value;
  const kind = ev.type === 'put' ? 'Updated' : 'Deleted';
  if (key.startsWith(KV_DATA)) {
    const k = key.slice(KV_DATA.length);
    const stored = row ? (JSON.parse(row) as { v: string | null; f: number }) : undefined;
    return { Topic: 'KV', Type: `KV${kind}`, Key: k, Index: revision, Payload: { KV: { Key: k, Value: stored?.v ?? null, Flags: stored?.f ?? 0, ModifyIndex: revision } } };
  }
  for (const table of TABLES) {
    const topic = TOPIC_OF[table];
    const prefix = tablePrefix(table);
    if (!topic || !key.startsWith(prefix)) continue;
    const id = key.slice(prefix.length);
    return { Topic: topic, Type: `${topic}${kind}`, Key: id, Index: revision, Payload: { [topic]: row ? JSON.parse(row) : null } };
  }
  return undefined;
}

/** Thrown for a resume index whose history is gone: the HTTP layer answers 410. */
export class IndexCompactedError extends BerthError {
  constructor(index: number, compactRevision: number) {
    super('not_found', `Cannot resume the event stream after index ${index}: events up to index ${compactRevision} were compacted away; start again from now (omit index) and reload the state you need`);
  }
}

/** What a subscriber wants and where its frames go. */
export interface Subscription {
  filter: TopicFilter;
  /** Resume with the first revision after this one; undefined: from now. */
  after: number | undefined;
  onFrame: (frame: StreamFrame) => void;
  /** Which events the subscriber may see (its token's read rights); default all. */
  visible?: (event: StreamEvent) => boolean;
  /** The watch failed; no frame follows. */
  onError: (err: Error) => void;
}

/**
 * Subscribe: `after` undefined starts from now, a number resumes with the first revision after it.
 * Frames come in revision order; revisions with no wanted event are skipped.
 */
export async function subscribeEvents(backend: StateBackend, subscription: Subscription): Promise<Watcher> {
  const { filter, after, onFrame, onError } = subscription;
  const visible = subscription.visible ?? (() => true);
  if (after !== undefined) {
    const current = await backend.revision();
    if (after > current) throw new BerthError('invalid_input', `Cannot resume the event stream after index ${after}: the latest index is ${current}`, [{ path: 'index', message: 'ahead of the server' }]);
    // The first revision to replay must still be in history; equal to `current` + 1 it is the future.
    if (after < current) {
      try {
        await backend.range({ prefix: STATE_PREFIX }, { revision: after + 1, countOnly: true });
      } catch (err) {
        if (err instanceof CompactedError) throw new IndexCompactedError(after, err.compactRevision);
        throw err;
      }
    }
  }
  return backend.watch(
    { prefix: STATE_PREFIX },
    (batch) => {
      const ends = sessionEnds(batch.events);
      const events = batch.events
        .flatMap((ev) => [toEvent(ev, batch.revision, ends), markedEvent(ev, batch.revision)])
        .filter((e): e is StreamEvent => e !== undefined && wanted(filter, e) && visible(e));
      if (events.length > 0) onFrame({ Index: batch.revision, Events: events });
    },
    { fromRevision: after === undefined ? 0 : after + 1, prevKv: true, onError },
  );
}
