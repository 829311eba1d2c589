import net from 'node:net';

/** Answers of HAProxy's runtime API that mean a command was refused. */
const REFUSED = /^(No such|Unknown command|Require|Invalid|Missing|Permission denied|'set server' expects)/im;

/**
 * One request to HAProxy's runtime API (the stats socket): commands joined with ";", one line
 * out, the answer read until HAProxy closes (non-interactive mode). Written by hand: it is a
 * line over a Unix socket, which no client library would make shorter.
 */
export function runtimeCommand(socketPath: string, commands: readonly string[], timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error(`HAProxy's runtime API did not answer within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => socket.end(`${commands.join(';')}\n`));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('close', (hadError) => {
      clearTimeout(timer);
      if (hadError) return;
      const answer = Buffer.concat(chunks).toString('utf8');
      if (REFUSED.test(answer)) reject(new Error(`HAProxy refused "${commands.join(';')}": ${answer.trim()}`));
      else resolve(answer);
    });
  });
}

/** The worker's pid (`show info`), to tell when a reload's new worker answers. */
export async function workerPid(socketPath: string): Promise<number | undefined> {
  const info = await runtimeCommand(socketPath, ['show info'], 1000).catch(() => '');
  const m = /^Pid: (\d+)$/m.exec(info);
  return m ? Number(m[1]) : undefined;
}
