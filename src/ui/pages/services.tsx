/** Services: instances by health, their checks and outputs, tags and meta. */
import type { ReactNode } from 'react';
import { Link, useParams } from 'react-router';
import type { ConsulHealthEntry } from '../../api/index.ts';
import { useAllHealth, useServices } from '../queries.ts';
import { CheckOutput, Header, Status } from '../parts/common.tsx';

function health(e: ConsulHealthEntry): string {
  if (e.Checks.some((c) => c.Status === 'critical')) return 'critical';
  if (e.Checks.some((c) => c.Status === 'warning')) return 'warning';
  return 'passing';
}

function Instances({ entries }: { entries: ConsulHealthEntry[] }): ReactNode {
  return (
    <table aria-label="Instances">
      <thead>
        <tr>
          <th>Instance</th>
          <th>Address</th>
          <th>Health</th>
          <th>Checks</th>
          <th>Tags and meta</th>
        </tr>
      </thead>
      <tbody>
        {[...entries]
          .sort((a, b) => health(a).localeCompare(health(b)))
          .map((e) => (
            <tr key={e.Service.ID}>
              <td className="mono">{e.Service.ID}</td>
              <td>
                {e.Service.Address}:{e.Service.Port} <span className="muted">on {e.Node.Node}</span>
              </td>
              <td>
                <Status value={health(e)} />
              </td>
              <td>
                {e.Checks.map((c) => (
                  <div key={c.CheckID}>
                    {c.Name} <Status value={c.Status} /> <CheckOutput text={c.Output} />
                  </div>
                ))}
              </td>
              <td>
                {(e.Service.Tags ?? []).map((t) => (
                  <span key={t} className="badge">
                    {t}
                  </span>
                ))}{' '}
                {Object.entries(e.Service.Meta ?? {}).map(([k, v]) => (
                  <code key={k}>
                    {k}={v}{' '}
                  </code>
                ))}
              </td>
            </tr>
          ))}
      </tbody>
    </table>
  );
}

/** The Services page: every service, or one. */
export default function Services(): ReactNode {
  const { name } = useParams();
  const names = useServices().data?.value;
  const all = useAllHealth(names ? Object.keys(names) : undefined).data ?? {};
  const shown = name ? [name] : Object.keys(all).sort();
  return (
    <>
      <Header title={name ? `Service ${name}` : `Services (${shown.length})`}>{name && <Link to="/services">All services</Link>}</Header>
      {shown.length === 0 && <p className="muted">No services registered.</p>}
      {shown.map((s) => {
        const entries = all[s] ?? [];
        const passing = entries.filter((e) => health(e) === 'passing').length;
        return (
          <section key={s} className="card" style={{ marginBottom: 10 }}>
            <h2>
              <Link to={`/services/${encodeURIComponent(s)}`}>{s}</Link>{' '}
              <span className="muted">
                {passing}/{entries.length} passing
              </span>
            </h2>
            <Instances entries={entries} />
          </section>
        );
      })}
    </>
  );
}
