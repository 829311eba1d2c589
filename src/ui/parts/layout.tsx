/** The frame around every page: navigation, the lost-connection banner, the token prompt. */
import { useState, type FormEvent, type ReactNode } from 'react';
import { NavLink, Outlet } from 'react-router';
import { setToken } from '../api.ts';
import { queryClient, tokenWanted, useConnection, useTokenWanted } from '../live.ts';
import { timeMode, useTimeMode } from './common.tsx';
import { KeyboardNavigation } from './keys.tsx';

const NAV: [string, string][] = [
  ['/', 'Overview'],
  ['/jobs', 'Jobs'],
  ['/run', 'Run job'],
  ['/nodes', 'Nodes'],
  ['/topology', 'Topology'],
  ['/services', 'Services'],
  ['/kv', 'KV'],
  ['/dependencies', 'Dependencies'],
  ['/events', 'Events'],
  ['/servers', 'Servers'],
];

/** The page frame. */
export function Layout(): ReactNode {
  const connection = useConnection();
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand" aria-label="berth">
          berth
        </span>
        <nav aria-label="Main">
          {NAV.map(([to, label]) => (
            <NavLink key={to} to={to} end={to === '/'}>
              {label}
            </NavLink>
          ))}
        </nav>
        <TimeToggle />
      </header>
      <KeyboardNavigation />
      {connection === 'lost' && (
        <div className="banner" role="status">
          Lost the connection to the server; retrying…
        </div>
      )}
      <TokenPrompt />
      <main id="main">
        <Outlet />
      </main>
    </div>
  );
}

/** Relative or absolute times, everywhere (also the `t` key). */
function TimeToggle(): ReactNode {
  const mode = useTimeMode();
  return (
    <div className="prefs">
      <button type="button" aria-pressed={mode === 'absolute'} onClick={() => timeMode.toggle()} title="Switch relative and absolute times (t); press ? for every key">
        Absolute times
      </button>
    </div>
  );
}

/** Asks for an ACL token after a 401; kept in session storage only. */
function TokenPrompt(): ReactNode {
  const wanted = useTokenWanted();
  const [value, setValue] = useState('');
  if (!wanted) return null;
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    setToken(value);
    tokenWanted.set(false);
    void queryClient.invalidateQueries();
  };
  return (
    <form className="token" onSubmit={submit} aria-label="ACL token">
      <p>The server asks for an ACL token. It is kept in this tab only (session storage).</p>
      <label>
        Secret ID <input type="password" value={value} onChange={(e) => setValue(e.target.value)} autoComplete="off" />
      </label>
      <button type="submit">Use token</button>
    </form>
  );
}
