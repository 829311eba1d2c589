/**
 * `berth logs JOB`: the output of every allocation of a job, interleaved line by line. Each
 * task's stdout and stderr is read through the per-allocation logs API; with `follow`, the job's
 * allocations are watched with a blocking query, so allocations that start later (a scale-up, a
 * rolling update's replacements) join the stream.
 */
import type { BerthClient } from '../api/index.ts';
import type { Allocation } from '../model/index.ts';

export type LogStream = 'stdout' | 'stderr';

/** One whole line of one task's output. */
export interface LogLine {
  alloc: Allocation;
  task: string;
  stream: LogStream;
  line: string;
}

export interface JobLogsOptions {
  group?: string;
  task?: string;
  follow: boolean;
  /** Start each allocation present at the start with its last N lines (later ones: all). */
  tail?: number;
  /** Only output written at or after this time (ms since the epoch). */
  since?: number;
  /** Terminal allocations too, not only running ones (while their agent keeps them: a stopped one's output goes with it). */
  all: boolean;
  signal: AbortSignal;
  onLine: (line: LogLine) => void;
  onWarning: (message: string) => void;
}

/** A line with no newline after this many characters is cut there, so one endless line cannot fill memory. */
const MAX_LINE = 64 * 1024;

/**
 * Bytes in, whole lines out: a line is handed on only once its newline has come (or the stream
 * ends), so lines of different tasks never mix mid-line. UTF-8 split across chunks is kept whole.
 */
export class LineSplitter {
  readonly #decoder = new TextDecoder();
  #rest = '';

  push(chunk: Uint8Array): string[] {
    const parts = (this.#rest + this.#decoder.decode(chunk, { stream: true })).split('\n');
    this.#rest = parts.pop() ?? '';
    while (this.#rest.length > MAX_LINE) {
      parts.push(this.#rest.slice(0, MAX_LINE));
      this.#rest = this.#rest.slice(MAX_LINE);
    }
    return parts;
  }

  /** What is left once the stream ends: a last line without its newline, if any. */
  end(): string[] {
    const last = this.#rest + this.#decoder.decode();
    this.#rest = '';
    return last === '' ? [] : [last];
  }
}

/** `web.1[3f2a]`, and `/task` when the allocation has several tasks and no --task chose one. */
export function allocLabel(alloc: Allocation, task: string, showTask: boolean): string {
  return `${alloc.group}.${alloc.index}[${alloc.id.slice(0, 4)}]${showTask ? `/${task}` : ''}`;
}

const TERMINAL = new Set(['complete', 'failed', 'lost']);

/** The tasks of `alloc` whose output is wanted now: started ones, of the chosen group and task. */
export function tasksToRead(alloc: Allocation, o: Pick<JobLogsOptions, 'group' | 'task' | 'all'>): string[] {
  if (o.group !== undefined && alloc.group !== o.group) return [];
  if (alloc.clientStatus === 'pending' || (TERMINAL.has(alloc.clientStatus) && !o.all)) return [];
  return Object.entries(alloc.taskStates)
    .filter(([name, state]) => (o.task === undefined || name === o.task) && state.state !== 'pending')
    .map(([name]) => name);
}

/**
 * Reads the job's logs until every stream ends, or, with `follow`, until `signal` aborts. Returns
 * how many streams it read.
 */
export async function streamJobLogs(client: BerthClient, jobId: string, o: JobLogsOptions): Promise<number> {
  const started = new Set<string>();
  const readers: Promise<void>[] = [];
  let index: number | undefined;
  for (let first = true; ; first = false) {
    let allocs: Allocation[];
    try {
      const answer = await client.jobAllocations(jobId, { index, signal: o.signal });
      allocs = answer.value;
      index = answer.index;
    } catch (err) {
      if (o.signal.aborted) break;
      throw err;
    }
    for (const alloc of allocs.sort((a, b) => a.index - b.index)) {
      for (const task of tasksToRead(alloc, o)) {
        for (const stream of ['stdout', 'stderr'] as const) {
          const key = `${alloc.id}/${task}/${stream}`;
          if (started.has(key)) continue;
          started.add(key);
          readers.push(readStream(client, alloc, task, stream, first ? o.tail : undefined, o));
        }
      }
    }
    if (!o.follow) break;
  }
  await Promise.all(readers);
  return readers.length;
}

async function readStream(client: BerthClient, alloc: Allocation, task: string, stream: LogStream, tail: number | undefined, o: JobLogsOptions): Promise<void> {
  const lines = new LineSplitter();
  const emit = (list: string[]): void => {
    for (const line of list) o.onLine({ alloc, task, stream, line });
  };
  try {
    const body = await client.allocLogs(alloc.id, { task, stream, follow: o.follow, tail, since: o.since, signal: o.signal });
    for await (const chunk of body) emit(lines.push(chunk));
  } catch (err) {
    // Once per task: its stdout and stderr fail together (an agent gone, an allocation it forgot).
    if (!o.signal.aborted && stream === 'stdout') o.onWarning(`Cannot read the output of task "${task}" in allocation ${alloc.id.slice(0, 8)}: ${(err as Error).message}`);
  } finally {
    emit(lines.end());
  }
}
