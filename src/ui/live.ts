/**
 * Live data, over one long-lived connection. A browser opens at most six HTTP/1.1 connections to
 * a server, so a blocking query per view would soon leave none for the user's own actions: the
 * event stream (`/v1/event/stream`) is the one connection held open, and each event marks the
 * cached reads of its topic stale, which TanStack Query reads again at once (plain GETs that
 * answer with their `X-Berth-Index`). When the stream is refused (a token without `events:read`),
 * each shown read falls back to a loop of blocking queries (`?index=`) instead.
 * Nothing reloads the page. A failing request marks the connection lost (a banner) and retries.
 */
import { useEffect, useSyncExternalStore } from 'react';
import { QueryClient, useQuery, type QueryKey, type UseQueryResult } from '@tanstack/react-query';
import type { BlockingOptions, Indexed, StreamEvent } from '../api/index.ts';
import { api, discoveryApi, needsToken, onTokenChange } from './api.ts';

/** The cache every page reads from. */
export const queryClient = new QueryClient({
  defaultOptions: { queries: { staleTime: Infinity, retry: (n, err) => !needsToken(err) && n < 2, refetchOnWindowFocus: false } },
});

/** A tiny store components subscribe to with useSyncExternalStore. */
function store<T>(initial: T): { get: () => T; set: (v: T) => void; subscribe: (l: () => void) => () => void } {
  let value = initial;
  const listeners = new Set<() => void>();
  return {
    get: () => value,
    set: (v) => {
      if (v === value) return;
      value = v;
      for (const l of listeners) l();
    },
    subscribe: (l) => (listeners.add(l), () => listeners.delete(l)),
  };
}

/** Whether the last request reached the server. */
export const connection = store<'ok' | 'lost'>('ok');
/** Set when the server answered 401: the UI asks for a token. */
export const tokenWanted = store(false);
/** Whether the event stream runs; when it was refused, reads use blocking queries. */
const streaming = store<'yes' | 'refused'>('yes');

/** The connection state, for the banner. */
export function useConnection(): 'ok' | 'lost' {
  return useSyncExternalStore(connection.subscribe, connection.get);
}

/** Whether a token prompt should show. */
export function useTokenWanted(): boolean {
  return useSyncExternalStore(tokenWanted.subscribe, tokenWanted.get);
}

/** Note what a request's failure says about the connection and the token. */
export function noteFailure(err: unknown): void {
  if (needsToken(err)) tokenWanted.set(true);
  else if ((err as { code?: string }).code === 'unavailable' || err instanceof TypeError) connection.set('lost');
}

const BLOCK_WAIT_MS = 25_000;

/** The fallback without the stream: blocking reads from the cached index while the view is shown. */
async function runLoop<T>(key: QueryKey, read: (opts: BlockingOptions) => Promise<Indexed<T>>, signal: AbortSignal): Promise<void> {
  let pause = 500;
  while (!signal.aborted) {
    const index = queryClient.getQueryData<Indexed<T>>(key)?.index;
    try {
      const next = await read(index === undefined ? { signal } : { index, waitMs: BLOCK_WAIT_MS, signal });
      connection.set('ok');
      pause = 500;
      if (next.index !== index) queryClient.setQueryData(key, next);
    } catch (err) {
      if (signal.aborted) return;
      noteFailure(err);
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 5_000);
    }
  }
}

/**
 * The value of a read that can block (`?index=`), kept live: refetched when the event stream says
 * its topic changed, or, without the stream, by blocking reads from its index.
 */
export function useLive<T>(key: QueryKey, read: (opts: BlockingOptions) => Promise<Indexed<T>>, enabled = true): UseQueryResult<Indexed<T>> {
  const query = useQuery({ queryKey: key, queryFn: ({ signal }) => read({ signal }), enabled });
  const stream = useSyncExternalStore(streaming.subscribe, streaming.get);
  const hash = JSON.stringify(key);
  const ready = query.data !== undefined;
  useEffect(() => {
    if (!enabled || !ready || stream === 'yes') return;
    const stop = new AbortController();
    void runLoop(key, read, stop.signal);
    return () => stop.abort();
    // The loop reads through `read` as first given; the key names what it reads.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [hash, enabled, ready, stream]);
  return query;
}

/** Which cached reads (the first part of their query key) each event topic makes stale. */
const STALE_BY_TOPIC: Record<string, string[]> = {
  Job: ['jobs', 'job', 'job-summary', 'versions', 'runs', 'graph', 'evals'],
  Allocation: ['allocs', 'job-allocs', 'alloc', 'job-summary', 'graph', 'runs'],
  Deployment: ['deployments', 'job-deployments'],
  Evaluation: ['evals', 'job-summary'],
  Node: ['nodes', 'node'],
  Service: ['service-names', 'health'],
  KV: ['kv'],
  Session: ['sessions', 'kv'],
};

/** The newest events, newest first, for the Overview feed and the Events page. */
export const recentEvents = store<StreamEvent[]>([]);
const KEEP_EVENTS = 500;

const stale = new Set<string>();
let flushTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * Refetch what went stale. A read already under way is not cancelled (under a storm of events it
 * would never finish): it stays marked and is read again once it is done.
 */
function flush(): void {
  flushTimer = undefined;
  for (const first of [...stale]) {
    const match = (q: { queryKey: QueryKey }): boolean => q.queryKey[0] === first;
    if (queryClient.isFetching({ predicate: match }) > 0) continue;
    stale.delete(first);
    void queryClient.invalidateQueries({ predicate: match });
  }
  if (stale.size > 0) flushTimer = setTimeout(flush, 20);
}

/** Apply one batch of events: keep them for the feed and mark what they change as stale. */
function onEvents(events: StreamEvent[]): void {
  const real = events.filter((e) => e.Topic);
  if (real.length === 0) return;
  recentEvents.set([...real.reverse(), ...recentEvents.get()].slice(0, KEEP_EVENTS));
  for (const e of real) for (const first of STALE_BY_TOPIC[e.Topic] ?? []) stale.add(first);
  flushTimer ??= setTimeout(flush, 0);
}

/** Changes shown from before the page opened, so the feed starts with some history. */
const HISTORY_REVISIONS = 200;

/** The state revision a little before now (from the allocations' index), to start the feed from. */
async function startIndex(): Promise<number | undefined> {
  try {
    const { index } = await api().listAllocations();
    return Math.max(0, index - HISTORY_REVISIONS);
  } catch {
    return undefined;
  }
}

/** Read the stream until it breaks; what to do next. */
async function follow(signal: AbortSignal, at: { last?: number }): Promise<'again' | 'refused'> {
  try {
    for await (const frame of discoveryApi().events({ index: at.last, signal })) {
      connection.set('ok');
      at.last = frame.Index;
      onEvents(frame.Events);
    }
  } catch (err) {
    if (signal.aborted) return 'again';
    const code = (err as { code?: string }).code;
    if (code === 'forbidden') return 'refused';
    noteFailure(err);
    // A compacted index (410): start from now.
    if ((err as { message?: string }).message?.includes('compacted')) at.last = undefined;
  }
  // Whatever changed during the break is read again.
  void queryClient.invalidateQueries();
  return 'again';
}

/** Follow the event stream for the page's lifetime, resuming from the last index after a break. */
export function startEventStream(): () => void {
  let stop = new AbortController();
  const at: { last?: number } = {};
  const run = async (signal: AbortSignal): Promise<void> => {
    at.last ??= await startIndex();
    while (!signal.aborted) {
      const next = await follow(signal, at);
      streaming.set(next === 'refused' ? 'refused' : 'yes');
      if (next === 'refused') return;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  };
  void run(stop.signal);
  const off = onTokenChange(() => {
    stop.abort();
    stop = new AbortController();
    streaming.set('yes');
    void run(stop.signal);
  });
  return () => (stop.abort(), off());
}
