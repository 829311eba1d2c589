import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import type { ExecRequest, ExecSession, LogChunk } from '../driver.ts';

/** The working dir, environment and user of a running process, from /proc. */
function processContext(pid: number): { cwd: string; env: Record<string, string>; uid: number; gid: number } {
  const cwd = readlinkSync(`/proc/${pid}/cwd`);
  const env: Record<string, string> = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? process.getuid?.() ?? 0);
  const gid = Number(/^Gid:\s+(\d+)/m.exec(status)?.[1] ?? process.getgid?.() ?? 0);
  return { cwd, env, uid, gid };
}

/** Quotes a word for /bin/sh. */
function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs a command beside a process task: in its working dir, with its environment and as its
 * user. A TTY comes from util-linux `script`, which gives the command a pseudo-terminal (Node
 * has none of its own); its size is fixed at the start.
 */
export function processExec(pid: number, request: ExecRequest): ExecSession {
  const ctx = processContext(pid);
  const env = { ...ctx.env, ...request.env };
  const self = process.getuid?.();
  const asUser = self === 0 ? { uid: ctx.uid, gid: ctx.gid } : {};
  const [file, ...args] = request.tty ? ['script', '-qfec', request.command.map(shellQuote).join(' '), '/dev/null'] : request.command;
  const child = spawn(file, args, { cwd: ctx.cwd, env: request.tty ? { TERM: 'xterm', ...env } : env, stdio: ['pipe', 'pipe', 'pipe'], ...asUser });
  const exit = new Promise<number>((resolve) => {
    child.once('error', () => resolve(127));
    child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : -1)));
  });
  async function* output(): AsyncGenerator<LogChunk> {
    const queue: LogChunk[] = [];
    let wake: (() => void) | undefined;
    let open = 2;
    const push = (stream: LogChunk['stream']) => (data: Buffer) => {
      queue.push({ stream, data });
      wake?.();
    };
    const done = (): void => {
      open--;
      wake?.();
    };
    child.stdout.on('data', push('stdout')).once('close', done);
    child.stderr.on('data', push('stderr')).once('close', done);
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      if (open === 0) return;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
  }
  child.stdin.on('error', () => undefined);
  return { stdin: child.stdin, output: output(), exit, resize: async () => {}, kill: () => child.kill('SIGKILL') };
}
