/**
 * Keyboard navigation: `g` then a letter opens a page, `/` focuses the page's search box, `t`
 * switches relative and absolute times, `?` lists the keys. Keys typed into a field are the
 * field's. Lists add their own (the Jobs table: `j`/`k` move, Enter opens).
 */
import { useEffect, useRef, type ReactNode, type RefObject } from 'react';
import { useNavigate } from 'react-router';
import { timeMode } from './common.tsx';

/** `g` + letter: the page it opens. */
export const GO_KEYS: [string, string, string][] = [
  ['o', '/', 'Overview'],
  ['j', '/jobs', 'Jobs'],
  ['r', '/run', 'Run a job'],
  ['n', '/nodes', 'Nodes'],
  ['t', '/topology', 'Topology'],
  ['s', '/services', 'Services'],
  ['k', '/kv/', 'Key/value'],
  ['d', '/dependencies', 'Dependencies'],
  ['e', '/events', 'Events'],
  ['v', '/servers', 'Servers'],
];

let goPending = false;

/** Whether a key press belongs to a field (or a terminal, or an editor) rather than to the page. */
export function typing(e: KeyboardEvent): boolean {
  if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented || goPending) return true;
  const t = e.target as HTMLElement | null;
  if (!t || !('closest' in t)) return false;
  return t.closest('input, textarea, select, [contenteditable], .xterm, .cm-editor') !== null;
}

/** The page-wide keys, and the dialog that lists them. */
export function KeyboardNavigation(): ReactNode {
  const navigate = useNavigate();
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (goPending) {
        // The key after `g` is consumed (preventDefault, which `typing` reads) even when it opens nothing.
        goPending = false;
        e.preventDefault();
        const go = GO_KEYS.find(([k]) => k === e.key);
        if (go) void navigate(go[1]);
        return;
      }
      if (typing(e)) return;
      if (e.key === 'g') goPending = true;
      else if (e.key === '/') {
        const search = document.querySelector<HTMLInputElement>('main input[type="search"]');
        if (search) {
          e.preventDefault();
          search.focus();
        }
      } else if (e.key === 't') timeMode.toggle();
      else if (e.key === '?') dialog.current?.showModal();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [navigate]);
  return <KeysDialog dialog={dialog} />;
}

function KeysDialog({ dialog }: { dialog: RefObject<HTMLDialogElement | null> }): ReactNode {
  return (
    <dialog ref={dialog} className="keys" aria-labelledby="keys-title">
      <h2 id="keys-title">Keyboard</h2>
      <dl>
        {GO_KEYS.map(([k, , label]) => (
          <div key={k} style={{ display: 'contents' }}>
            <dt>
              <kbd>g</kbd> <kbd>{k}</kbd>
            </dt>
            <dd>{label}</dd>
          </div>
        ))}
        <dt>
          <kbd>/</kbd>
        </dt>
        <dd>Search on this page</dd>
        <dt>
          <kbd>j</kbd> <kbd>k</kbd> <kbd>Enter</kbd>
        </dt>
        <dd>Jobs: next, previous, open</dd>
        <dt>
          <kbd>t</kbd>
        </dt>
        <dd>Relative or absolute times</dd>
        <dt>
          <kbd>?</kbd>
        </dt>
        <dd>This list</dd>
      </dl>
      <form method="dialog">
        <button type="submit">Close</button>
      </form>
    </dialog>
  );
}
