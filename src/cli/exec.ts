import WebSocket from 'ws';
import { CliError } from './errors.ts';
import { defaultTransport } from '../api/index.ts';

/**
 * Runs an exec session over its WebSocket: relays this terminal's stdin up, writes stdout and
 * stderr down, and resolves with the command's exit code. With a TTY the local terminal goes raw
 * (keys go to the command as typed) and its size follows the window.
 */
export function execSession(url: string, tty: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    // ws hands the TLS options to tls.connect, whose checkServerIdentity returns an Error (ws types it as boolean).
    const tls = defaultTransport().wsOptions() as WebSocket.ClientOptions;
    const ws = new WebSocket(url, { ...tls, headers: process.env.BERTH_TOKEN ? { authorization: `Bearer ${process.env.BERTH_TOKEN}` } : {} });
    const stdin = process.stdin;
    let code: number | undefined;
    let failure: string | undefined;
    const send = (msg: object): void => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
    };
    const resize = (): void => send({ resize: { cols: process.stdout.columns, rows: process.stdout.rows } });
    ws.on('open', () => {
      if (tty && stdin.isTTY) stdin.setRawMode(true);
      if (tty && process.stdout.isTTY) {
        resize();
        process.stdout.on('resize', resize);
      }
      stdin.on('data', (d: Buffer) => send({ stdin: d.toString('base64') }));
      stdin.on('end', () => send({ stdinClose: true }));
      stdin.resume();
    });
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { stdout?: string; stderr?: string; exit?: number; error?: string };
      if (msg.stdout) process.stdout.write(Buffer.from(msg.stdout, 'base64'));
      if (msg.stderr) process.stderr.write(Buffer.from(msg.stderr, 'base64'));
      if (msg.exit !== undefined) code = msg.exit;
      if (msg.error) failure = msg.error;
    });
    const done = (): void => {
      if (tty && stdin.isTTY) stdin.setRawMode(false);
      process.stdout.off('resize', resize);
      stdin.pause();
      stdin.destroy();
      if (failure) reject(new CliError(failure));
      else if (code === undefined) reject(new CliError('Cannot exec: the session ended without an exit code (the agent or server went away)'));
      else resolve(code);
    };
    ws.on('close', done);
    // A refusal before the upgrade (no token, too weak a token, a foreign Origin) comes as an HTTP
    // answer with berth's error body: show its message, not "Unexpected server response: 403".
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        try {
          failure = (JSON.parse(body) as { error?: { message?: string } }).error?.message;
        } catch {
          // Not berth's shape.
        }
        failure ??= `Cannot exec: the server answered ${res.statusCode}`;
        done();
      });
    });
    ws.on('error', (err) => {
      failure ??= `Cannot exec: cannot reach the server at ${url.split('/v1/')[0]}: ${err.message} (is it running? set BERTH_ADDR)`;
    });
  });
}
