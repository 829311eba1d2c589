/** A job diff (the plan's and a version's), by group and task, with what is destructive marked. */
import type { ReactNode } from 'react';
import type { FieldChange, JobDiff } from '../../model/index.ts';

function value(v: unknown): string {
  return v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
}

function Fields({ fields }: { fields: FieldChange[] }): ReactNode {
  return (
    <ul>
      {fields.map((f) => (
        <li key={f.path} className={`diff-${f.kind}`}>
          <span aria-hidden="true">{f.kind === 'added' ? '+ ' : f.kind === 'removed' ? '- ' : '~ '}</span>
          <code>{f.path}</code>: {f.kind === 'changed' ? `${value(f.old)} → ${value(f.new)}` : value(f.kind === 'added' ? f.new : f.old)}
        </li>
      ))}
    </ul>
  );
}

/** Job fields the server keeps about a version, not written in a spec: no change of the user's. */
const BOOKKEEPING = new Set(['stable', 'version', 'submitTime', 'stop']);

/** The diff, as the CLI's `job plan` prints it, in lists. */
export function DiffView({ diff: given }: { diff: JobDiff | undefined }): ReactNode {
  const diff = given && { ...given, fields: given.fields.filter((f) => !BOOKKEEPING.has(f.path)) };
  if (!diff || (diff.fields.length === 0 && diff.groups.every((g) => g.kind === 'none'))) return <p className="muted">No changes.</p>;
  return (
    <div className="diff" data-testid="diff">
      {diff.fields.length > 0 && <Fields fields={diff.fields} />}
      {diff.groups
        .filter((g) => g.kind !== 'none')
        .map((g) => (
          <div key={g.name}>
            <strong className={`diff-${g.kind}`}>
              {g.kind} group "{g.name}"
            </strong>
            {g.destructive.length > 0 && <span className="badge s-failed">destructive: {g.destructive.join(', ')}</span>}
            <Fields fields={g.fields} />
            {g.tasks
              .filter((t) => t.kind !== 'none')
              .map((t) => (
                <div key={t.name} style={{ marginLeft: 16 }}>
                  <span className={`diff-${t.kind}`}>
                    {t.kind} task "{t.name}"
                  </span>
                  <Fields fields={t.fields} />
                </div>
              ))}
          </div>
        ))}
    </div>
  );
}
