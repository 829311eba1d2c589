import { Command } from 'commander';
import { CliError } from '../errors.ts';
import { serverAddress } from './consul-http.ts';

/** `berth event stream`: print state changes as JSON lines, as they happen. */
export function eventCommand(): Command {
  const event = new Command('event').description('The event stream: state changes as they happen');
  event
    .command('stream')
    .description('Print events as JSON lines (Job, Allocation, Deployment, Evaluation, Node, Service, KV)')
    .option('--topic <topic:filter>', 'a topic, optionally with a key (Job:web, KV:cfg/*); repeatable; default all', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--index <n>', 'resume after this index instead of starting from now')
    .action(async (opts: { topic: string[]; index?: string }) => {
      const q = new URLSearchParams();
      for (const t of opts.topic) q.append('topic', t);
      if (opts.index !== undefined) q.set('index', opts.index);
      const address = serverAddress();
      let res: Response;
      try {
        res = await fetch(`${address}/v1/event/stream${q.size ? `?${q}` : ''}`, { headers: process.env.BERTH_TOKEN ? { authorization: `Bearer ${process.env.BERTH_TOKEN}` } : {} });
      } catch (err) {
        throw new CliError(`Cannot reach the berth server at ${address}: ${(err as Error).message} (is it running? set BERTH_ADDR)`);
      }
      if (!res.ok) {
        const text = await res.text();
        let message = text;
        try {
          message = (JSON.parse(text) as { error: { message: string } }).error.message;
        } catch {
          // Not berth's error shape.
        }
        throw new CliError(message);
      }
      const decoder = new TextDecoder();
      let buf = '';
      for await (const chunk of res.body!) {
        buf += decoder.decode(chunk as Uint8Array, { stream: true });
        let at: number;
        while ((at = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, at);
          buf = buf.slice(at + 1);
          // `{}` is a heartbeat.
          if (line !== '{}' && line.trim() !== '') process.stdout.write(`${line}\n`);
        }
      }
      throw new CliError('The event stream ended: the server closed it (resume with --index and the last Index printed)');
    });
  return event;
}
