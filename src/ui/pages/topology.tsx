/** Topology: every node as a block holding its allocations, each sized by the memory it reserves. */
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { useAllocs, useNodes } from '../queries.ts';
import { Header, Status } from '../parts/common.tsx';
import { reservedByNode } from './nodes.tsx';

/** The inside of a node's box, in pixels. */
const BOX_W = 280;
const BOX_H = 160;

/** The Topology page. */
export default function Topology(): ReactNode {
  const nodes = useNodes().data?.value ?? [];
  const used = reservedByNode(useAllocs().data?.value ?? []);
  // One scale for every node, so blocks compare across nodes: the busiest node fills its box.
  const busiest = Math.max(1, ...[...used.values()].map((u) => u.memoryMiB));
  const pxPerMiB = (BOX_W * BOX_H * 0.7) / busiest;
  return (
    <>
      <Header title="Topology" />
      <p className="muted">Each block is a node; each allocation's area is the memory it reserves, on one scale for every node.</p>
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
                    const side = Math.max(14, Math.round(Math.sqrt(a.resources.memoryMiB * pxPerMiB)));
                    return (
                      <Link key={a.id} to={`/allocations/${a.id}`} className={`topo-alloc st-${a.clientStatus}`} style={{ width: side, height: side }} title={`${a.name}: ${a.resources.memoryMiB} MiB, ${a.resources.cpu} cores, ${a.clientStatus}`}>
                        {a.jobId}
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
