/**
 * Ships task output off the node: to syslog (RFC 5424 over UDP, or over TCP with RFC 6587 octet
 * counting) or to an HTTP(S) endpoint as JSON lines (what Vector, Fluent Bit and Loki-style
 * receivers take). Each target has its own forwarder, so one slow receiver costs the others
 * nothing. Lines wait in a bounded queue;
 * when the receiver is slow or away the oldest are dropped and counted, so a task's output never
 * waits on the network: the drivers write it to their own files or logs, and this only reads.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';
import { backoffDelay, systemClock, type Clock, type Logger } from '../../lib/index.ts';
import { parseLogTarget, type LogTarget } from './log-target.ts';

export { parseLogTarget, LOG_TARGET_FORMS, type LogTarget } from './log-target.ts';

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

/** What takes task output lines: one forwarder, or several (`fanOut`). */
export interface LogSink {
  push(line: LogLine): void;
}

/** A sink that gives each line to every one of `sinks`. */
export function fanOut(sinks: readonly LogSink[]): LogSink {
  return {
    push(line) {
      for (const s of sinks) s.push(line);
    },
  };
}

/** Options of a `LogForwarder`. */
export interface LogForwarderOptions {
  /** `syslog://host[:514]`, `syslog+tcp://host[:601]` or `http(s)://[user:password@]host[:port]/path`. */
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

/** Syslog's limit on what a UDP receiver must take is 480 bytes, most take 2048 (RFC 5426); longer lines are cut. */
const MAX_SYSLOG_BYTES = 2048;
/** Over TCP, RFC 5425 has receivers take 2048 bytes and lets them take 8192 (rsyslog's default); longer lines are cut there. */
const MAX_SYSLOG_TCP_BYTES = 8192;
/** How often at most a forwarder warns that it dropped lines. */
const DROP_WARNING_MS = 10_000;
/** How long a send may take before the receiver counts as stuck: the send fails and is retried. */
const SEND_TIMEOUT_MS = 10_000;

/**
 * The bounded queue and its sender. `push` never waits and never throws; one send is in flight
 * at a time, and a failed one is retried with backoff while new lines queue (and the oldest drop).
 */
export class LogForwarder implements LogSink {
  readonly #o: Required<Omit<LogForwarderOptions, 'target'>>;
  readonly #target: LogTarget;
  #queue: LogLine[] = [];
  /** The lines at the front of the queue that are being sent now: overflow drops the ones after them. */
  #inFlight = 0;
  #sending = false;
  #failures = 0;
  #closed = false;
  #socket: dgram.Socket | undefined;
  #tcp: net.Socket | undefined;
  /** Aborts a send in flight when the forwarder is closed. */
  readonly #closing = new AbortController();
  /** Lines delivered to the receiver. */
  forwarded = 0;
  /** Lines dropped because the queue was full. */
  dropped = 0;
  #droppedWarned = 0;
  #lastDropWarning = -Infinity;

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
      this.#warnDrops();
    }
    if (!this.#sending) void this.#drain();
  }

  /** Say that lines were dropped, at most every DROP_WARNING_MS: the count is in the metrics all along. */
  #warnDrops(): void {
    const now = this.#o.clock.now();
    if (now - this.#lastDropWarning < DROP_WARNING_MS) return;
    this.#o.logger.warn({ target: this.#target.name, dropped: this.dropped - this.#droppedWarned, droppedTotal: this.dropped, buffer: this.#o.capacity }, 'log forwarding fell behind: its buffer is full and the oldest lines are dropped');
    this.#lastDropWarning = now;
    this.#droppedWarned = this.dropped;
  }

  /** Lines waiting to be sent. */
  get queued(): number {
    return this.#queue.length;
  }

  /** The target as shown in logs and metrics: its URL with any password masked. */
  get name(): string {
    return this.#target.name;
  }

  /** Stop sending; what is queued is dropped, and a send in flight is cut off. */
  close(): void {
    this.#closed = true;
    this.#closing.abort();
    this.#socket?.close();
    this.#socket = undefined;
    this.#tcp?.destroy();
    this.#tcp = undefined;
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
          if (this.#failures === 1) this.#o.logger.warn({ err: (err as Error).message, target: this.#target.name, retryInMs: delay }, 'cannot forward task logs; lines wait (and the oldest drop past the buffer)');
          await new Promise<void>((resolve) => this.#o.clock.setTimer(resolve, delay));
        } finally {
          this.#inFlight = 0;
        }
      }
    } finally {
      this.#sending = false;
    }
  }

  #send(batch: LogLine[]): Promise<void> {
    const t = this.#target;
    if (t.kind === 'http') return this.#sendHttp(batch, t);
    return t.kind === 'syslog' ? this.#sendSyslog(batch, t) : this.#sendSyslogTcp(batch, t);
  }

  async #sendSyslog(batch: LogLine[], target: { host: string; port: number }): Promise<void> {
    this.#socket ??= dgram.createSocket(target.host.includes(':') ? 'udp6' : 'udp4').on('error', () => {});
    const socket = this.#socket;
    for (const line of batch) {
      const message = syslogMessage(line, this.#o.hostname);
      await new Promise<void>((resolve, reject) => socket.send(message, target.port, target.host, (err) => (err ? reject(err) : resolve())));
    }
  }

  /** One connection, opened again after it breaks; each message framed as `LENGTH SP MESSAGE` (RFC 6587 octet counting). */
  async #sendSyslogTcp(batch: LogLine[], target: { host: string; port: number }): Promise<void> {
    const socket = this.#tcp ?? (await this.#connect(target));
    const frames = batch.map((line) => {
      const message = syslogMessage(line, this.#o.hostname, MAX_SYSLOG_TCP_BYTES);
      return Buffer.concat([Buffer.from(`${message.length} `), message]);
    });
    try {
      // A receiver that stops reading fills the socket's buffers and the write never completes: the timeout ends it.
      await this.#withTimeout(new Promise<void>((resolve, reject) => socket.write(Buffer.concat(frames), (err) => (err ? reject(err) : resolve()))), `writing to ${this.#target.name}`);
    } catch (err) {
      this.#dropTcp(socket);
      throw err;
    }
  }

  async #connect(target: { host: string; port: number }): Promise<net.Socket> {
    const socket = net.connect({ host: target.host, port: target.port });
    this.#tcp = socket;
    socket.on('error', () => this.#dropTcp(socket)).on('close', () => this.#dropTcp(socket));
    const connected = new Promise<net.Socket>((resolve, reject) => {
      socket.once('connect', () => resolve(socket));
      socket.once('error', reject);
      socket.once('close', () => reject(new Error(`${this.#target.name} closed the connection`)));
    });
    return this.#withTimeout(connected, `connecting to ${this.#target.name}`).catch((err: unknown) => {
      this.#dropTcp(socket);
      throw err;
    });
  }

  #dropTcp(socket: net.Socket): void {
    if (this.#tcp === socket) this.#tcp = undefined;
    socket.destroy();
  }

  /** `work`, or an error after SEND_TIMEOUT_MS or once the forwarder is closed. */
  async #withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
    const signal = AbortSignal.any([this.#closing.signal, AbortSignal.timeout(SEND_TIMEOUT_MS)]);
    let onAbort = (): void => {};
    const late = new Promise<never>((_, reject) => {
      onAbort = () => reject(new Error(this.#closed ? `${what}: closed` : `${what} took longer than ${SEND_TIMEOUT_MS / 1000}s`));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([work, late]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async #sendHttp(batch: LogLine[], target: { url: string; authorization?: string; name: string }): Promise<void> {
    const body = batch.map((l) => JSON.stringify({ timestamp: new Date(l.time).toISOString(), node: this.#o.hostname, job: l.job, group: l.group, alloc: l.alloc, task: l.task, stream: l.stream, message: l.line })).join('\n') + '\n';
    const headers: Record<string, string> = { 'content-type': 'application/x-ndjson' };
    if (target.authorization) headers.authorization = target.authorization;
    const signal = AbortSignal.any([this.#closing.signal, AbortSignal.timeout(SEND_TIMEOUT_MS)]);
    const res = await fetch(target.url, { method: 'POST', headers, body, signal });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${target.name} answered ${res.status}`);
  }
}

/**
 * One RFC 5424 message: facility user (1), severity informational for stdout and error for
 * stderr; APP-NAME the job, PROCID the allocation, MSGID the task, and the names again as
 * structured data under `berth@32473` (32473 is the enterprise number RFC 5612 sets aside for
 * examples: berth has none of its own). Built by hand: the format is one line of fixed fields.
 */
export function syslogMessage(l: LogLine, hostname: string, maxBytes = MAX_SYSLOG_BYTES): Buffer {
  const pri = 1 * 8 + (l.stream === 'stderr' ? 3 : 6);
  const field = (s: string, max: number): string => s.replace(/[^\x21-\x7e]/g, '_').slice(0, max) || '-';
  const param = (s: string): string => s.replace(/[\\"\]]/g, (c) => `\\${c}`);
  const sd = `[berth@32473 job="${param(l.job)}" group="${param(l.group)}" alloc="${param(l.alloc)}" task="${param(l.task)}" stream="${l.stream}"]`;
  const header = `<${pri}>1 ${new Date(l.time).toISOString()} ${field(hostname, 255)} ${field(l.job, 48)} ${field(l.alloc, 128)} ${field(l.task, 32)} ${sd} `;
  // The message as UTF-8 with its BOM, as RFC 5424 marks UTF-8 text.
  const full = Buffer.concat([Buffer.from(header), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(l.line)]);
  return full.subarray(0, maxBytes);
}
