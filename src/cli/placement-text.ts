/** Placement failures as people read them: why nodes were rejected, and by how much they fall short. */
import type { PlacementFailure, Shortfall } from '../model/index.ts';

/** `23.5 GiB`, `512 MiB`: sizes from MiB, the way specs write them. */
export function size(mib: number): string {
  if (mib < 1024) return `${Math.round(mib)} MiB`;
  return `${(mib / 1024).toFixed(1).replace(/\.0$/, '')} GiB`;
}

/** `0.5 cpu`, `4 cpu`: millicores as cores, as `node status` shows them. */
function cores(milli: number): string {
  return `${Math.round(milli) / 1000} cpu`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** One dimension's shortfall: what one allocation asks and the most free on any node. */
export function shortfallText(dimension: string, s: Shortfall): string {
  const [asked, free] =
    dimension === 'memory' || dimension === 'disk'
      ? [`${size(s.ask)} ${dimension}`, size(s.mostFree)]
      : dimension === 'cpu'
        ? [cores(s.ask), cores(s.mostFree)]
        : dimension === 'ports'
          ? [plural(s.ask, 'dynamic port'), plural(s.mostFree, 'port')]
          : [`room for ${plural(s.ask, 'allocation')}`, `room for ${plural(s.mostFree, 'allocation')}`];
  return `asks ${asked}; the most free on any node is ${free} (node ${s.nodeName})`;
}

/** Each failure: the group, the rejection reasons, then a line per exhausted dimension. */
export function describeFailures(failures: PlacementFailure[]): string {
  return failures
    .map((f) => {
      const reasons = Object.entries(f.filtered)
        .map(([reason, n]) => `${reason} on ${plural(n, 'node')}`)
        .join(', ');
      const head = `cannot place ${plural(f.missing, 'allocation')} of group "${f.group}": ${plural(f.nodesEvaluated, 'node')} evaluated${reasons ? `; ${reasons}` : ''}`;
      const dims = Object.entries(f.shortfall ?? {}).map(([d, s]) => `  ${shortfallText(d, s)}`);
      return [head, ...dims, ...nodeReasonLines(f)].join('\n');
    })
    .join('\n');
}

/** One line per node ruled out (`  node b1 (3f2a1c9d): memory exhausted`), then how many more were not listed. */
export function nodeReasonLines(failure: PlacementFailure): string[] {
  const lines = (failure.nodes ?? []).map((n) => `  node ${n.nodeName} (${n.nodeId.slice(0, 8)}): ${n.reason}`);
  if ((failure.nodesOmitted ?? 0) > 0) lines.push(`  and ${plural(failure.nodesOmitted!, 'more node')} ruled out (not listed)`);
  return lines;
}

/** What `job run` says of a job it cannot place: why, that it waits for room, and how to stop it. */
export function unplaceableText(jobId: string, failures: PlacementFailure[]): string {
  return [
    `Cannot place job "${jobId}": ${describeFailures(failures)}`,
    `The job stays registered (pending): its allocations are placed when capacity appears (a node joins, or room is freed).`,
    `To remove it: berth job stop ${jobId}`,
  ].join('\n');
}
