import { PassThrough, type Duplex } from 'node:stream';
import type Docker from 'dockerode';
import type { ExecRequest, ExecSession, LogChunk } from '../driver.ts';
import { demuxDockerLogs } from './docker-logs.ts';

/**
 * `docker exec` through the Engine API: the stream is hijacked, so stdin goes up the same socket
 * the output comes down. Without a TTY the output is multiplexed like logs; with one it is raw.
 */
export async function dockerExec(container: Docker.Container, request: ExecRequest): Promise<ExecSession> {
  const exec = await container.exec({
    Cmd: request.command,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: request.tty,
    Env: Object.entries(request.env ?? {}).map(([k, v]) => `${k}=${v}`),
  });
  const stream = (await exec.start({ hijack: true, stdin: true, Tty: request.tty })) as Duplex;
  const ended = new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
  const raw = new PassThrough();
  stream.pipe(raw);
  const output: AsyncIterable<LogChunk> = request.tty
    ? (async function* () {
        for await (const data of raw) yield { stream: 'stdout' as const, data: data as Buffer };
      })()
    : demuxDockerLogs(raw);
  const stdin = new PassThrough();
  stdin.pipe(stream);
  // The command sees end of input when the caller ends stdin; the socket stays open for output.
  stdin.on('end', () => (stream as Duplex & { end(): void }).end());
  const exit = ended.then(async () => {
    for (let i = 0; i < 20; i++) {
      const info = await exec.inspect();
      if (!info.Running) return info.ExitCode ?? -1;
      await new Promise((r) => setTimeout(r, 50));
    }
    return -1;
  });
  return {
    stdin,
    output,
    exit,
    resize: async (cols, rows) => {
      if (request.tty) await exec.resize({ w: cols, h: rows }).catch(() => undefined);
    },
    kill: () => stream.destroy(),
  };
}
