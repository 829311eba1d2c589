/** Nodes: resources used over total, status, eligibility, drain with a deadline. */
import { useState, type ReactNode } from 'react';
import { Link, useSearchParams } from 'react-router';
import type { Allocation, Node } from '../../model/index.ts';
import { api } from '../api.ts';
import { useAllocs, useNodes } from '../queries.ts';
import { useMay } from '../acl.ts';
import { ActionButton, ErrorBox, Header, Meter, Status, Time } from '../parts/common.tsx';
import { shortId } from '../format.ts';

/** What the live allocations on each node reserve. */
export function reservedByNode(allocs: Allocation[]): Map<string, { cpu: number; memoryMiB: number; allocs: Allocation[] }> {
  const out = new Map<string, { cpu: number; memoryMiB: number; allocs: Allocation[] }>();
  for (const a of allocs) {
    if (a.desiredStatus !== 'run' || a.clientStatus === 'complete' || a.clientStatus === 'failed' || a.clientStatus === 'lost') continue;
    const r = out.get(a.nodeId) ?? { cpu: 0, memoryMiB: 0, allocs: [] };
    r.cpu += a.resources.cpu;
    r.memoryMiB += a.resources.memoryMiB;
    r.allocs.push(a);
    out.set(a.nodeId, r);
  }
  return out;
}

function DrainControls({ node }: { node: Node }): ReactNode {
  const [minutes, setMinutes] = useState('10');
  const may = useMay({ scope: 'nodes', name: node.name, capability: 'write' });
  if (node.drain) {
    return (
      <span className="actions">
        <Status value="draining" /> {node.drain.deadline ? <>deadline <Time ms={node.drain.deadline} /></> : 'no deadline'}
        <ActionButton label="Cancel drain" run={() => api().drainNode(node.id, { enable: false })} may={{ scope: 'nodes', name: node.name, capability: 'write' }} />
      </span>
    );
  }
  if (!may) return null;
  return (
    <span className="actions">
      <label>
        Deadline (min) <input type="number" min={0} value={minutes} onChange={(e) => setMinutes(e.target.value)} style={{ width: 60 }} />
      </label>
      <ActionButton label="Drain" confirm={`Drain node ${node.name}? Its allocations move elsewhere.`} run={() => api().drainNode(node.id, { enable: true, deadlineMs: Number(minutes) * 60_000 })} />
    </span>
  );
}

function NodeRow({ node, used }: { node: Node; used?: { cpu: number; memoryMiB: number; allocs: Allocation[] } }): ReactNode {
  return (
    <tr data-testid={`node-${node.name}`}>
      <td>
        <strong>{node.name}</strong> <span className="mono muted">{shortId(node.id)}</span>
        <div className="muted">
          {node.address} · {node.datacenter} · {node.defaultDriver}
        </div>
      </td>
      <td>
        <Status value={node.status} />
      </td>
      <td>
        <Status value={node.eligible ? 'eligible' : 'ineligible'} />{' '}
        <ActionButton label={node.eligible ? 'Make ineligible' : 'Make eligible'} run={() => api().setNodeEligibility(node.id, !node.eligible)} may={{ scope: 'nodes', name: node.name, capability: 'write' }} />
      </td>
      <td>
        {(used?.cpu ?? 0).toFixed(2)} / {node.resources.cpu} cores
        <Meter used={used?.cpu ?? 0} total={node.resources.cpu} label={`cpu of ${node.name}`} />
      </td>
      <td>
        {used?.memoryMiB ?? 0} / {node.resources.memoryMiB} MiB
        <Meter used={used?.memoryMiB ?? 0} total={node.resources.memoryMiB} label={`memory of ${node.name}`} />
      </td>
      <td>{used?.allocs.length ?? 0}</td>
      <td>
        <Time ms={node.lastHeartbeat} />
      </td>
      <td>
        <DrainControls node={node} />
      </td>
    </tr>
  );
}

/** The Nodes page. */
export default function Nodes(): ReactNode {
  const nodes = useNodes();
  const allocs = useAllocs();
  const used = reservedByNode(allocs.data?.value ?? []);
  // `?node=` narrows to one node, by name or by id prefix as the CLI takes it.
  const wanted = useSearchParams()[0].get('node') ?? '';
  const shown = (nodes.data?.value ?? []).filter((n) => !wanted || n.name === wanted || n.id.startsWith(wanted));
  return (
    <>
      <Header title={wanted ? `Node ${wanted}` : `Nodes (${nodes.data?.value.length ?? '…'})`}>{wanted && <Link to="/nodes">All nodes</Link>}</Header>
      {wanted && nodes.data && shown.length === 0 && <p className="error" role="alert">No node has the name or id prefix “{wanted}”.</p>}
      <ErrorBox error={nodes.error} />
      <table aria-label="Nodes">
        <thead>
          <tr>
            <th>Node</th>
            <th>Status</th>
            <th>Eligibility</th>
            <th>CPU reserved</th>
            <th>Memory reserved</th>
            <th>Allocs</th>
            <th>Heartbeat</th>
            <th>Drain</th>
          </tr>
        </thead>
        <tbody>
          {[...shown]
            .sort((a, b) => a.name.localeCompare(b.name))
            .map((n) => (
              <NodeRow key={n.id} node={n} used={used.get(n.id)} />
            ))}
        </tbody>
      </table>
    </>
  );
}
