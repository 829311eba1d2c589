/** Events: the live stream, filtered by topic. */
import { useSyncExternalStore, type ReactNode } from 'react';
import { useSearchParams } from 'react-router';
import { recentEvents } from '../live.ts';
import { Header } from '../parts/common.tsx';
import { EventTarget } from './overview.tsx';

const TOPICS = ['Job', 'Allocation', 'Deployment', 'Evaluation', 'Node', 'Service', 'KV', 'Session'];

/** The Events page. */
export default function Events(): ReactNode {
  const [params, setParams] = useSearchParams();
  const chosen = new Set(params.getAll('topic'));
  const all = useSyncExternalStore(recentEvents.subscribe, recentEvents.get);
  const shown = all.filter((e) => chosen.size === 0 || chosen.has(e.Topic));
  const toggle = (t: string): void => {
    const next = new Set(chosen);
    if (next.has(t)) next.delete(t);
    else next.add(t);
    setParams(new URLSearchParams([...next].map((x) => ['topic', x])), { replace: true });
  };
  return (
    <>
      <Header title="Events" />
      <fieldset className="toolbar">
        <legend>Topics</legend>
        {TOPICS.map((t) => (
          <label key={t}>
            <input type="checkbox" checked={chosen.has(t)} onChange={() => toggle(t)} /> {t}
          </label>
        ))}
      </fieldset>
      <table aria-label="Events">
        <thead>
          <tr>
            <th>Index</th>
            <th>Topic</th>
            <th>Type</th>
            <th>Key</th>
          </tr>
        </thead>
        <tbody aria-live="polite">
          {shown.slice(0, 200).map((e, i) => (
            <tr key={`${e.Index}-${e.Key}-${i}`}>
              <td className="mono">{e.Index}</td>
              <td>{e.Topic}</td>
              <td>{e.Type}</td>
              <td>
                <EventTarget topic={e.Topic} id={e.Key} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length === 0 && <p className="muted">Waiting for changes… (events since this page opened)</p>}
    </>
  );
}
