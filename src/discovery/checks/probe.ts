/**
 * One run of one check: an HTTP request, a TCP connect, a script or a gRPC health call, with
 * Consul's verdicts (2xx passes, 429 warns, anything else or a timeout is critical; a script's
 * exit 0 passes, 1 warns, others are critical).
 */
import net from 'node:net';
import type { CheckSpec, CheckStatus } from '../../model/index.ts';
import { grpcHealth } from './grpc.ts';
import type { ProbeResult } from './result.ts';

export type { ProbeResult };

/** Where a check goes, and how to run a script where the task runs. */
export interface ProbeTarget {
  /** Host and port for http, tcp and grpc (from the service's port); ignored when the spec has a url or target. */
  host: string;
  port: number;
  /** Runs a script check's command where the task runs; absent: script checks are critical. */
  exec?: (command: string, args: string[], timeoutMs: number) => Promise<{ exitCode: number; output: string }>;
}

/** Output is capped as Consul caps it (4 KiB), so a chatty endpoint cannot bloat the catalog. */
export const MAX_OUTPUT = 4096;

/** Run the check once. Never throws: a failure is a critical result with the reason. */
export async function probe(spec: CheckSpec, target: ProbeTarget): Promise<ProbeResult> {
  try {
    switch (spec.type) {
      case 'http':
        return await probeHttp(spec, target);
      case 'tcp':
        return await probeTcp(spec, target);
      case 'script':
        return await probeScript(spec, target);
      case 'grpc': {
        const [host, port] = hostPort(spec, target);
        return await grpcHealth({ host, port, service: spec.grpcService ?? '', timeoutMs: spec.timeoutMs });
      }
      case 'ttl':
        return { status: 'critical', output: 'TTL checks are updated from outside, not run' };
    }
  } catch (err) {
    return { status: 'critical', output: cap((err as Error).message) };
  }
}

function hostPort(spec: CheckSpec, target: ProbeTarget): [string, number] {
  if (spec.target) {
    const i = spec.target.lastIndexOf(':');
    return [spec.target.slice(0, i).replace(/^\[(.*)\]$/, '$1'), Number(spec.target.slice(i + 1))];
  }
  return [target.host, target.port];
}

function cap(text: string): string {
  return text.length > MAX_OUTPUT ? `${text.slice(0, MAX_OUTPUT)}...` : text;
}

async function probeHttp(spec: CheckSpec, target: ProbeTarget): Promise<ProbeResult> {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  const url = spec.url ?? `http://${host}:${target.port}${spec.path ?? '/'}`;
  const method = spec.method ?? 'GET';
  const headers = new Headers();
  for (const [k, values] of Object.entries(spec.headers ?? {})) for (const v of values) headers.append(k, v);
  let res: Response;
  try {
    res = await fetch(url, { method, headers, signal: AbortSignal.timeout(spec.timeoutMs), redirect: 'manual' });
  } catch (err) {
    const e = err as Error & { cause?: Error };
    const why = e.name === 'TimeoutError' ? `timed out after ${spec.timeoutMs} ms` : (e.cause?.message ?? e.message);
    return { status: 'critical', output: `HTTP ${method} ${url}: ${why}` };
  }
  const body = cap(await res.text().catch(() => ''));
  const range = spec.expectStatus ?? { min: 200, max: 299 };
  const status: CheckStatus = res.status >= range.min && res.status <= range.max ? 'passing' : res.status === 429 ? 'warning' : 'critical';
  return { status, output: `HTTP ${method} ${url}: ${res.status} ${res.statusText} Output: ${body}` };
}

function probeTcp(spec: CheckSpec, target: ProbeTarget): Promise<ProbeResult> {
  const [host, port] = hostPort(spec, target);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (result: ProbeResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ status: 'critical', output: `TCP connect ${host}:${port}: timed out after ${spec.timeoutMs} ms` }), spec.timeoutMs);
    socket.once('connect', () => done({ status: 'passing', output: `TCP connect ${host}:${port}: Success` }));
    socket.once('error', (err) => done({ status: 'critical', output: `TCP connect ${host}:${port}: ${err.message}` }));
  });
}

async function probeScript(spec: CheckSpec, target: ProbeTarget): Promise<ProbeResult> {
  if (!target.exec) return { status: 'critical', output: 'script checks need a driver that can run commands in the task' };
  const { exitCode, output } = await target.exec(spec.command ?? '', spec.args ?? [], spec.timeoutMs);
  const status: CheckStatus = exitCode === 0 ? 'passing' : exitCode === 1 ? 'warning' : 'critical';
  return { status, output: cap(output) };
}
