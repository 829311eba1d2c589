/** Servers: the members and which one leads. */
import type { ReactNode } from 'react';
import { useServers } from '../queries.ts';
import { Header, Loaded, Status, Time } from '../parts/common.tsx';

/** The Servers page. */
export default function Servers(): ReactNode {
  const q = useServers();
  return (
    <>
      <Header title="Servers" />
      <Loaded query={q}>
        {(servers) => (
          <table aria-label="Servers">
            <thead>
              <tr>
                <th>Name</th>
                <th>API</th>
                <th>Address</th>
                <th>Role</th>
                <th>Started</th>
              </tr>
            </thead>
            <tbody>
              {servers.map((s) => (
                <tr key={s.name}>
                  <td>
                    {s.name} {s.self && <span className="muted">(this one)</span>}
                  </td>
                  <td className="mono">{s.url}</td>
                  <td className="mono">{s.address}</td>
                  <td>
                    <Status value={s.leader ? 'leader' : 'follower'} />
                  </td>
                  <td>
                    <Time ms={Date.parse(s.startedAt)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
    </>
  );
}
