/**
 * Why a group could not be placed: the reasons counted, the shortfall per dimension, and each node
 * that was ruled out with its reason (the server lists the first few by name and counts the rest).
 * Shown on the Job page's evaluations and in the plan's placement dry run.
 */
import type { ReactNode } from 'react';
import type { DependencyWait, PlacementFailure } from '../../model/index.ts';
import { shortId } from '../format.ts';

/** The ruled-out nodes of one failure, one row each. */
function RuledOut({ f }: { f: PlacementFailure }): ReactNode {
  if (!f.nodes?.length) return null;
  return (
    <table aria-label={`Nodes ruled out for group ${f.group}`} data-testid="ruled-out">
      <thead>
        <tr>
          <th>Node</th>
          <th>Why it was ruled out</th>
        </tr>
      </thead>
      <tbody>
        {f.nodes.map((n) => (
          <tr key={n.nodeId}>
            <td>
              {n.nodeName} <span className="mono muted">{shortId(n.nodeId)}</span>
            </td>
            <td>{n.reason}</td>
          </tr>
        ))}
        {(f.nodesOmitted ?? 0) > 0 && (
          <tr>
            <td colSpan={2} className="muted">
              and {f.nodesOmitted} more node{f.nodesOmitted === 1 ? '' : 's'} (counted above)
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

/** One group's placement failure. */
export function PlacementFailureView({ f }: { f: PlacementFailure }): ReactNode {
  return (
    <div className="placement-failure">
      <strong>
        Group "{f.group}": {f.missing} not placed, {f.nodesEvaluated} nodes evaluated
      </strong>
      <ul>
        {Object.entries(f.filtered).map(([reason, n]) => (
          <li key={reason}>
            {reason}: {n} node{n === 1 ? '' : 's'}
          </li>
        ))}
        {Object.entries(f.shortfall ?? {}).map(([dim, s]) => (
          <li key={dim}>
            {dim}: asks {s.ask}, most free {s.mostFree} on {s.nodeName}
          </li>
        ))}
      </ul>
      <RuledOut f={f} />
    </div>
  );
}

/** The dependencies that hold (or would hold) a job's placements. */
export function HeldBy({ held }: { held: DependencyWait[] | undefined }): ReactNode {
  if (!held?.length) return null;
  return (
    <ul aria-label="Held by">
      {held.map((h) => (
        <li key={`${h.job}-${h.condition}`}>
          held until <strong>{h.job}</strong> is {h.condition}: <span className="muted">{h.reason}</span>
        </li>
      ))}
    </ul>
  );
}
