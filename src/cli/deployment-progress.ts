import type { BerthClient } from '../api/index.ts';
import type { Deployment } from '../model/index.ts';
import type { RolloutOutcome } from './progress.ts';

/** One line per group: desired, placed, healthy, unhealthy, canaries, and the time left before the progress deadline. */
export function renderDeployment(d: Deployment, now = Date.now()): string {
  const groups = Object.entries(d.groups).map(([name, g]) => {
    const left = Math.max(0, Math.ceil((g.progressDeadline - now) / 1000));
    const canaries = g.desiredCanaries > 0 ? `, canaries ${g.canaries.length}/${g.desiredCanaries}${g.promoted ? ' promoted' : ' (waiting for promote)'}` : '';
    const deadline = d.status === 'running' ? `, ${left}s to progress deadline` : '';
    return `${name}: ${g.desired} desired, ${g.placed} placed, ${g.healthy} healthy, ${g.unhealthy} unhealthy${canaries}${deadline}`;
  });
  return `deployment ${d.id.slice(0, 8)} (${d.jobId} v${d.jobVersion}) ${d.status}: ${groups.join(' | ')}`;
}

/**
 * Follow a deployment until it ends, printing progress (one rewritten line on a terminal, a line
 * per change otherwise). Successful: ok; failed or cancelled: the reason.
 */
export async function watchDeployment(client: BerthClient, id: string, out: NodeJS.WriteStream = process.stderr): Promise<RolloutOutcome> {
  const live = out.isTTY === true;
  let index = 0;
  let last = '';
  for (;;) {
    // Short waits: the time left before the deadline moves even when nothing else does.
    const { index: next, value: d } = await client.getDeployment(id, { index, waitMs: live ? 1_000 : 5_000 });
    index = next;
    const line = renderDeployment(d);
    if (line !== last) {
      out.write(live ? `\r\x1b[2K${line}` : `${line}\n`);
      last = line;
    }
    if (d.status === 'running' || d.status === 'paused') continue;
    if (live) out.write('\n');
    if (d.status === 'successful') return { ok: true };
    return { ok: false, reason: `deployment ${d.id.slice(0, 8)} ${d.status}: ${d.statusDescription}` };
  }
}
