/** What e2e tests watch from outside berth: host processes, and the event stream. */
import { readdirSync, readFileSync } from 'node:fs';

/** Pids of live (not zombie) host processes whose command line holds `marker`, sorted. */
export function pidsWith(marker: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (cmd.includes(marker) && !/\) Z /.test(stat)) out.push(pid);
    } catch {
      // Gone meanwhile.
    }
  }
  return out.sort();
}

/** One event of `/v1/event/stream`. */
export interface StreamEvent {
  Topic: string;
  Type: string;
  Key: string;
  Payload: Record<string, unknown>;
}

/** Reads an ndjson event stream until an event matches (within `timeoutMs`, default 30 s). */
export async function firstEvent(res: Response, match: (e: StreamEvent) => boolean, timeoutMs = 30_000): Promise<StreamEvent> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const timer = setTimeout(() => void reader.cancel(), timeoutMs);
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the event stream ended before the event came');
      buf += decoder.decode(value, { stream: true });
      let at;
      while ((at = buf.indexOf('\n')) >= 0) {
        const frame = JSON.parse(buf.slice(0, at)) as { Events?: StreamEvent[] };
        buf = buf.slice(at + 1);
        const found = frame.Events?.find(match);
        if (found) return found;
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * SIGKILL every live process whose command line names `dir`: the tasks an agent (or `berth dev`)
 * started under its data dir. Tasks outlive their agent on purpose, so a test that throws its data
 * dir away must end them itself, or they run on with nothing to stop them.
 */
export function killTasksUnder(dir: string): void {
  for (const pid of pidsWith(dir)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}
