/**
 * Ships task output off the node: to syslog (RFC 5424 over UDP) or to an HTTP(S) endpoint as JSON
 * lines (what Vector, Fluent Bit and Loki-style receivers take). Lines wait in a bounded queue;
 * when the receiver is slow or away the oldest are dropped and counted, so a task's output never
 * waits on the network: the drivers write it to their own files or logs, and this only reads.
 */
import dgram from 'node:dgram';
import os from 'node:os';
import { backoffDelay, systemClock, type Clock, type Logger } from '../../lib/index.ts';

/** One line of a task's output, with what names it. */
export interface LogLine {
  /** Milliseconds since the epoch, when the agent read it. */
  time: number;
  job: string;
  group: string;
  alloc: string;
  task: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

/** Options of a `LogForwarder`. */
export interface LogForwarderOptions {
  /** `syslog://host[:514]` or `http(s)://host[:port]/path`. */
  target: string;
  logger: Logger;
  /** Lines held while the receiver is slow or away; past it the oldest go. Default 10000. */
  capacity?: number;
  /** Lines in one HTTP request. Default 500. */
  batch?: number;
  /** The HOSTNAME of syslog messages and `node` of JSON lines. Default: the host's name. */
  hostname?: string;
  clock?: Clock;
}

/** What `parseLogTarget` accepts, or why not. */
export type LogTarget = { kind: 'syslog'; host: string; port: number } | { kind: 'http'; url: string };

/** `--log-forward`'s value, checked: the error says what is accepted. */
export function parseLogTarget(value: string): { ok: true; target: LogTarget } | { ok: false; error: string } {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, error: `"${value}" is not a URL; use syslog://host:514 or http(s)://host/path` };
  }
  if (url.protocol === 'syslog:' && url.hostname) return { ok: true, target: { kind: 'syslog', host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : 514 } };
  if ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname) return { ok: true, target: { kind: 'http', url: url.href } };
  return { ok: false, error: `"${value}" has scheme ${url.protocol.replace(/:$/, '')}; use syslog://host:514 (RFC 5424 over UDP) or http(s)://host/path (JSON lines)` };
}

/** Syslog's limit on what a UDP receiver must take is 480 bytes, most take 2048 (RFC 5426); longer lines are cut. */
const MAX_SYSLOG_BYTES = 2048;

/**
 * The bounded queue and its sender. `push` never waits and never throws; one send is in flight
 * at a time, and a failed one is retried with backoff while new lines queue (and the oldest drop).
 */
export class LogForwarder {
  readonly #o: Required<Omit<LogForwarderOptions, 'target'>>;
  readonly #target: LogTarget;
  #queue: LogLine[] = [];
  /** The lines at the front of the queue that are being sent now: overflow drops the ones after them. */
  #inFlight = 0;
  #sending = false;
  #failures = 0;
  #closed = false;
  #socket: dgram.Socket | undefined;
  /** Lines delivered to the receiver. */
  forwarded = 0;
  /** Lines dropped because the queue was full. */
  dropped = 0;

  constructor(options: LogForwarderOptions) {
    const parsed = parseLogTarget(options.target);
    if (!parsed.ok) throw new Error(`Cannot forward logs: ${parsed.error}`);
    this.#target = parsed.target;
    const capacity = Math.max(1, options.capacity ?? 10_000);
    this.#o = { logger: options.logger, capacity, batch: Math.min(capacity, options.batch ?? 500), hostname: options.hostname ?? os.hostname(), clock: options.clock ?? systemClock };
  }

  /** Queue a line; when the queue is full the oldest line goes (and is counted). */
  push(line: LogLine): void {
    if (this.#closed) return;
    this.#queue.push(line);
    if (this.#queue.length > this.#o.capacity) {
      const over = this.#queue.length - this.#o.capacity;
      this.#queue.splice(this.#inFlight, over);
      this.dropped += over;
    }
    if (!this.#sending) void this.#drain();
  }

  /** Lines waiting to be sent. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Stop sending; what is queued is dropped. */
  close(): void {
    this.#closed = true;
    this.#socket?.close();
    this.#socket = undefined;
  }

  async #drain(): Promise<void> {
    this.#sending = true;
    try {
      while (!this.#closed && this.#queue.length > 0) {
        const batch = this.#queue.slice(0, this.#o.batch);
        this.#inFlight = batch.length;
        try {
          await this.#send(batch);
          this.#queue.splice(0, batch.length);
          this.forwarded += batch.length;
          this.#failures = 0;
        } catch (err) {
          const delay = backoffDelay(this.#failures++, { baseMs: 200, maxMs: 10_000 });
          if (this.#failures === 1) this.#o.logger.warn({ err: (err as Error).message, target: this.#describe(), retryInMs: delay }, 'cannot forward task logs; lines wait (and the oldest drop past the buffer)');
          await new Promise<void>((resolve) => this.#o.clock.setTimer(resolve, delay));
        } finally {
          this.#inFlight = 0;
        }
      }
    } finally {
      this.#sending = false;
    }
  }

  #describe(): string {
    return this.#target.kind === 'syslog' ? `syslog://${this.#target.host}:${this.#target.port}` : this.#target.url;
  }

  #send(batch: LogLine[]): Promise<void> {
    return this.#target.kind === 'syslog' ? this.#sendSyslog(batch, this.#target) : this.#sendHttp(batch, this.#target.url);
  }

  async #sendSyslog(batch: LogLine[], target: { host: string; port: number }): Promise<void> {
    this.#socket ??= dgram.createSocket(target.host.includes(':') ? 'udp6' : 'udp4').on('error', () => {});
    const socket = this.#socket;
    for (const line of batch) {
      const message = syslogMessage(line, this.#o.hostname);
      await new Promise<void>((resolve, reject) => socket.send(message, target.port, target.host, (err) => (err ? reject(err) : resolve())));
    }
  }

  async #sendHttp(batch: LogLine[], url: string): Promise<void> {
    const body = batch.map((l) => JSON.stringify({ timestamp: new Date(l.time).toISOString(), node: this.#o.hostname, job: l.job, group: l.group, alloc: l.alloc, task: l.task, stream: l.stream, message: l.line })).join('\n') + '\n';
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body, signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  }
}

/**
 * One RFC 5424 message: facility user (1), severity informational for stdout and error for
 * stderr; APP-NAME the job, PROCID the allocation, MSGID the task, and the names again as
 * structured data under `berth@32473` (32473 is the enterprise number RFC 5612 sets aside for
 * examples: berth has none of its own). Built by hand: the format is one line of fixed fields.
 */
export function syslogMessage(l: LogLine, hostname: string): Buffer {
  const pri = 1 * 8 + (l.stream === 'stderr' ? 3 : 6);
  const field = (s: string, max: number): string => s.replace(/[^\x21-\x7e]/g, '_').slice(0, max) || '-';
  const param = (s: string): string => s.replace(/[\\"\]]/g, (c) => `\\${c}`);
  const sd = `[berth@32473 job="${param(l.job)}" group="${param(l.group)}" alloc="${param(l.alloc)}" task="${param(l.task)}" stream="${l.stream}"]`;
  const header = `<${pri}>1 ${new Date(l.time).toISOString()} ${field(hostname, 255)} ${field(l.job, 48)} ${field(l.alloc, 128)} ${field(l.task, 32)} ${sd} `;
  // The message as UTF-8 with its BOM, as RFC 5424 marks UTF-8 text.
  const full = Buffer.concat([Buffer.from(header), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(l.line)]);
  return full.subarray(0, MAX_SYSLOG_BYTES);
}
