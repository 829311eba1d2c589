/**
 * Live data. Reads the API offers as blocking queries (`?index=`) are kept fresh by one loop per
 * query key, shared by every component that shows it; the answer lands in TanStack Query's cache.
 * Everything else is refetched when the event stream (`/v1/event/stream`) says its topic changed.
 * Nothing reloads the page. A failing loop marks the connection lost (a banner) and retries.
 */
import { useEffect, useSyncExternalStore } from 'react';
import { QueryClient, useQuery, type QueryKey, type UseQueryResult } from '@tanstack/react-query';
import type { BlockingOptions, Indexed, StreamEvent } from '../api/index.ts';
import { discoveryApi, needsToken, onTokenChange } from './api.ts';

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

const loops = new Map<string, { users: number; stop: AbortController }>();
const BLOCK_WAIT_MS = 25_000;

async function runLoop<T>(key: QueryKey, read: (opts: BlockingOptions) => Promise<Indexed<T>>, signal: AbortSignal): Promise<void> {
  let pause = 500;
  while (!signal.aborted) {
    const index = queryClient.getQueryData<Indexed<T>>(key)?.index;
    try {
      const next = await read(index === undefined ? { signal } : { index, waitMs: BLOCK_WAIT_MS, signal });
      connection.set('ok');
      pause = 500;
      if (next.index !== index || index === undefined) queryClient.setQueryData(key, next);
    } catch (err) {
      if (signal.aborted) return;
      noteFailure(err);
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 5_000);
    }
  }
}

/**
 * The value of a blocking read, kept live: the first answer through useQuery, then a loop of
 * blocking reads from its index for as long as some component shows it.
 */
export function useLive<T>(key: QueryKey, read: (opts: BlockingOptions) => Promise<Indexed<T>>, enabled = true): UseQueryResult<Indexed<T>> {
  const query = useQuery({ queryKey: key, queryFn: ({ signal }) => read({ signal }), enabled });
  const hash = JSON.stringify(key);
  const ready = query.data !== undefined;
  useEffect(() => {
    if (!enabled || !ready) return;
    let loop = loops.get(hash);
    if (!loop) {
      loop = { users: 0, stop: new AbortController() };
      loops.set(hash, loop);
      void runLoop(key, read, loop.stop.signal);
    }
    loop.users++;
    const mine = loop;
    return () => {
      mine.users--;
      if (mine.users === 0) {
        mine.stop.abort();
        loops.delete(hash);
      }
    };
    // The loop reads through `read` as first given; the key names what it reads.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [hash, enabled, ready]);
  return query;
}

/** Which query keys (their first part) each event topic makes stale. */
const STALE_BY_TOPIC: Record<string, string[]> = {
  Job: ['job', 'versions', 'runs', 'graph', 'evals', 'job-deployments'],
  Deployment: ['job-deployments', 'deployment'],
  Evaluation: ['evals'],
  Allocation: ['graph', 'runs'],
  Node: ['node'],
  Service: ['services', 'health'],
  KV: ['sessions'],
  Session: ['sessions'],
};

/** The newest events, newest first, for the Overview feed and the Events page. */
export const recentEvents = store<StreamEvent[]>([]);
const KEEP_EVENTS = 500;

/** Apply one batch of events: keep them for the feed and mark what they change as stale. */
function onEvents(events: StreamEvent[]): void {
  recentEvents.set([...events.filter((e) => e.Topic).reverse(), ...recentEvents.get()].slice(0, KEEP_EVENTS));
  const stale = new Set(events.flatMap((e) => STALE_BY_TOPIC[e.Topic] ?? []));
  for (const first of stale) void queryClient.invalidateQueries({ predicate: (q) => q.queryKey[0] === first });
}

/** Follow the event stream for the page's lifetime, resuming from the last index after a break. */
export function startEventStream(): () => void {
  let stop = new AbortController();
  let last: number | undefined;
  const run = async (signal: AbortSignal): Promise<void> => {
    while (!signal.aborted) {
      try {
        for await (const frame of discoveryApi().events({ index: last, signal })) {
          connection.set('ok');
          last = frame.Index;
          onEvents(frame.Events);
        }
      } catch (err) {
        if (signal.aborted) return;
        noteFailure(err);
        // A compacted index (410): start from now.
        if ((err as { message?: string }).message?.includes('compacted')) last = undefined;
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
  };
  void run(stop.signal);
  const off = onTokenChange(() => {
    stop.abort();
    stop = new AbortController();
    void run(stop.signal);
  });
  return () => (stop.abort(), off());
}
