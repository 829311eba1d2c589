import { Command } from 'commander';
import { CliError } from '../errors.ts';
import { send } from './consul-http.ts';

/** `berth event stream`: print state changes as JSON lines, as they happen. */
export function eventCommand(): Command {
  const event = new Command('event').description('The event stream: state changes as they happen');
  event
    .command('stream')
    .description('Print events as JSON lines (Job, Allocation, Deployment, Evaluation, Node, Service, KV, Session)')
    .option('--topic <topic:filter>', 'a topic, optionally with a key (Job:web, KV:cfg/*); repeatable; default all', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--index <n>', 'resume after this index instead of starting from now')
    .action(async (opts: { topic: string[]; index?: string }) => {
      let index = opts.index;
      // A stream cut (its server died or stopped) resumes after the last index printed, on
      // whichever server of BERTH_ADDR answers; one that ends again with nothing new gives up.
      for (let empty = 0; ; ) {
        const res = await openStream(opts.topic, index);
        let cut = '';
        const before = index;
        try {
          index = await printEvents(res, index);
        } catch (err) {
          index = (err as { index?: string }).index ?? index;
          cut = `: ${(err as Error).message}`;
        }
        empty = index === before ? empty + 1 : 0;
        if (empty >= 3) break;
        process.stderr.write(`The event stream ended${cut}; resuming${index === undefined ? '' : ` after index ${index}`}\n`);
      }
      throw new CliError(`The event stream ended: the server closed it three times without a new event (resume with --index ${index ?? '<the last Index printed>'})`);
    });
  return event;
}

/** Open the stream after `index` (or from now); a refusal becomes a CliError with the server's words. */
async function openStream(topics: string[], index: string | undefined): Promise<Response> {
  const q = new URLSearchParams();
  for (const t of topics) q.append('topic', t);
  if (index !== undefined) q.set('index', index);
  const res = await send(`/v1/event/stream${q.size ? `?${q}` : ''}`, {});
  if (res.ok) return res;
  const text = await res.text();
  let message = text;
  try {
    message = (JSON.parse(text) as { error: { message: string } }).error.message;
  } catch {
    // Not berth's error shape.
  }
  throw new CliError(message);
}

/**
 * Print the stream's events as JSON lines until it ends; returns the last index seen. When the
 * connection breaks, the error thrown carries that index too.
 */
async function printEvents(res: Response, index: string | undefined): Promise<string | undefined> {
  const decoder = new TextDecoder();
  let last = index;
  let buf = '';
  try {
    for await (const chunk of res.body!) {
      buf += decoder.decode(chunk as Uint8Array, { stream: true });
      let at: number;
      while ((at = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, at);
        buf = buf.slice(at + 1);
        // `{}` is a heartbeat.
        if (line === '{}' || line.trim() === '') continue;
        process.stdout.write(`${line}\n`);
        const frameIndex = (JSON.parse(line) as { Index?: number }).Index;
        if (frameIndex !== undefined) last = String(frameIndex);
      }
    }
  } catch (err) {
    throw Object.assign(new Error((err as Error & { cause?: Error }).cause?.message ?? (err as Error).message), { index: last });
  }
  return last;
}
