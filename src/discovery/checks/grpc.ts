/**
 * The gRPC health checking protocol (grpc.health.v1.Health/Check) over plain-text HTTP/2, written
 * out by hand: one request and one response message of one field each do not need a gRPC stack.
 */
import http2 from 'node:http2';
import type { ProbeResult } from './result.ts';

const SERVING = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

/** Encode HealthCheckRequest{service} in a gRPC length-prefixed frame. */
export function encodeHealthRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const message = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]);
  const frame = Buffer.alloc(5);
  frame.writeUInt32BE(message.length, 1);
  return Buffer.concat([frame, message]);
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

/** The `status` field of a HealthCheckResponse frame; 0 (UNKNOWN) when absent. */
export function decodeHealthStatus(frame: Buffer): number {
  const msg = frame.subarray(5, 5 + frame.readUInt32BE(1));
  for (let i = 0; i < msg.length; ) {
    const tag = msg[i++];
    let value = 0;
    for (let shift = 0; i < msg.length; shift += 7) {
      const b = msg[i++];
      value |= (b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    if (tag === 0x08) return value;
    // Any other field: berth only asked for status; a length-delimited field is skipped.
    if ((tag & 7) === 2) i += value;
  }
  return 0;
}

/** Ask a gRPC server whether `service` ('' for the whole server) is SERVING. */
export function grpcHealth(target: { host: string; port: number; service: string; timeoutMs: number }): Promise<ProbeResult> {
  const { host, port, service, timeoutMs } = target;
  const where = `gRPC ${host}:${port}${service ? `/${service}` : ''}`;
  return new Promise((resolve) => {
    const client = http2.connect(`http://${host.includes(':') ? `[${host}]` : host}:${port}`);
    const done = (result: ProbeResult): void => {
      clearTimeout(timer);
      client.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ status: 'critical', output: `${where}: timed out after ${timeoutMs} ms` }), timeoutMs);
    client.on('error', (err) => done({ status: 'critical', output: `${where}: ${err.message}` }));
    const req = client.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' });
    const chunks: Buffer[] = [];
    let grpcStatus: string | undefined;
    req.on('response', (headers) => (grpcStatus = headers['grpc-status'] as string | undefined));
    req.on('trailers', (trailers) => (grpcStatus = (trailers['grpc-status'] as string | undefined) ?? grpcStatus));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', (err) => done({ status: 'critical', output: `${where}: ${err.message}` }));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (grpcStatus !== undefined && grpcStatus !== '0') return done({ status: 'critical', output: `${where}: grpc-status ${grpcStatus}` });
      if (body.length < 5) return done({ status: 'critical', output: `${where}: empty response` });
      const status = decodeHealthStatus(body);
      done({ status: status === 1 ? 'passing' : 'critical', output: `${where}: ${SERVING[status] ?? status}` });
    });
    req.end(encodeHealthRequest(service));
  });
}
