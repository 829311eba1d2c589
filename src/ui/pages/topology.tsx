/** Topology: every node as a block holding its allocations, each sized by the memory it reserves. */
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { useAllocs, useNodes } from '../queries.ts';
import { Header, Status } from '../parts/common.tsx';
import { reservedByNode } from './nodes.tsx';

/** The Topology page. */
export default function Topology(): ReactNode {
  const nodes = useNodes().data?.value ?? [];
  const used = reservedByNode(useAllocs().data?.value ?? []);
  return (
    <>
      <Header title="Topology" />
      <p className="muted">Each block is a node; each allocation's area is the share of the node's memory it reserves.</p>
      <div className="topo">
        {[...nodes]
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((n) => {
            const u = used.get(n.id);
            return (
              <section key={n.id} className="topo-node" aria-label={`node ${n.name}`}>
                <h2>
                  {n.name} <Status value={n.drain ? 'draining' : n.status} />{' '}
                  <span className="muted">
                    {u?.memoryMiB ?? 0}/{n.resources.memoryMiB} MiB
                  </span>
                </h2>
                <div className="topo-box">
                  {(u?.allocs ?? []).map((a) => {
                    const share = Math.max(0.02, a.resources.memoryMiB / n.resources.memoryMiB);
                    const side = Math.round(Math.sqrt(share) * 280);
                    return (
                      <Link key={a.id} to={`/allocations/${a.id}`} className={`topo-alloc st-${a.clientStatus}`} style={{ width: side, height: Math.max(18, side / 2) }} title={`${a.name}: ${a.resources.memoryMiB} MiB, ${a.resources.cpu} cores, ${a.clientStatus}`}>
                        {a.name}
                      </Link>
                    );
                  })}
                </div>
              </section>
            );
          })}
      </div>
    </>
  );
}
