/**
 * Structured diffs between two versions of a job: which fields were added, removed or changed,
 * per group and task, and which of them force a destructive update (new allocations).
 */
import type { DiffKind, FieldChange, Group, GroupDiff, Job, JobDiff, Task, TaskDiff } from '../model/index.ts';

/** Fields berth owns, not part of what the user wrote. */
const OWNED = new Set(['version', 'stop', 'submitTime', 'groups']);
/** Group fields a running allocation depends on (the scheduler's spec hash): changing them replaces allocations. */
const DESTRUCTIVE_GROUP_FIELDS = ['ports', 'constraints', 'upstreams'];
/** Task fields the scheduler's spec hash leaves out: services live in the catalog and change in place. */
const IN_PLACE_TASK_FIELDS = ['services'];

/** Compare two JSON values, listing the leaves that differ under `prefix`. */
function diffValues(prefix: string, a: unknown, b: unknown, out: FieldChange[] = []): FieldChange[] {
  if (a === undefined && b === undefined) return out;
  if (a === undefined) return (out.push({ kind: 'added', path: prefix, new: b }), out);
  if (b === undefined) return (out.push({ kind: 'removed', path: prefix, old: a }), out);
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) diffValues(prefix ? `${prefix}.${k}` : k, a[k], b[k], out);
    return out;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ kind: 'changed', path: prefix, old: a, new: b });
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function kindOf(old: unknown, now: unknown, changes: number): DiffKind {
  if (old === undefined) return 'added';
  if (now === undefined) return 'removed';
  return changes > 0 ? 'changed' : 'none';
}

function diffTask(old: Task | undefined, now: Task | undefined): TaskDiff {
  const fields = diffValues('', old, now);
  const kind = kindOf(old, now, fields.length);
  return { name: (old ?? now)!.name, kind, fields: kind === 'changed' ? fields : [] };
}

function diffGroup(old: Group | undefined, now: Group | undefined): GroupDiff {
  const { tasks: oldTasks, ...oldRest } = old ?? ({} as Partial<Group>);
  const { tasks: newTasks, ...newRest } = now ?? ({} as Partial<Group>);
  const fields = old && now ? diffValues('', oldRest, newRest) : [];
  const names = [...new Set([...(oldTasks ?? []).map((t) => t.name), ...(newTasks ?? []).map((t) => t.name)])];
  const tasks = names.map((n) => diffTask(oldTasks?.find((t) => t.name === n), newTasks?.find((t) => t.name === n))).filter((t) => t.kind !== 'none');
  const kind = kindOf(old, now, fields.length + tasks.length);
  const destructive: string[] = [];
  if (kind === 'changed') {
    for (const f of fields) if (DESTRUCTIVE_GROUP_FIELDS.some((d) => f.path === d || f.path.startsWith(`${d}.`))) destructive.push(f.path);
    for (const t of tasks) {
      if (t.kind !== 'changed') destructive.push(`tasks.${t.name} (${t.kind})`);
      else for (const f of t.fields) if (!IN_PLACE_TASK_FIELDS.some((d) => f.path === d || f.path.startsWith(`${d}.`))) destructive.push(`tasks.${t.name}.${f.path}`);
    }
  }
  return { name: (old ?? now)!.name, kind, fields, tasks, destructive };
}

/** The diff from `old` to `now`; either may be absent (a new or a removed job). */
export function diffJobs(old: Job | Omit<Job, 'version' | 'stop' | 'submitTime'> | undefined, now: Job | Omit<Job, 'version' | 'stop' | 'submitTime'> | undefined): JobDiff {
  const userPart = (j: object | undefined): Record<string, unknown> | undefined =>
    j === undefined ? undefined : Object.fromEntries(Object.entries(j).filter(([k]) => !OWNED.has(k)));
  const fields = old && now ? diffValues('', userPart(old), userPart(now)) : [];
  if (old && now && 'stop' in old && 'stop' in now && old.stop !== now.stop) fields.push({ kind: 'changed', path: 'stop', old: old.stop, new: now.stop });
  const names = [...new Set([...(old?.groups ?? []).map((g) => g.name), ...(now?.groups ?? []).map((g) => g.name)])];
  const groups = names.map((n) => diffGroup(old?.groups.find((g) => g.name === n), now?.groups.find((g) => g.name === n))).filter((g) => g.kind !== 'none');
  return { kind: kindOf(old, now, fields.length + groups.length), fields, groups };
}

/** The diff as indented lines for people: `+` added, `-` removed, `~` changed. */
export function formatDiff(diff: JobDiff): string[] {
  const sign = { added: '+', removed: '-', changed: '~', none: ' ' } as const;
  const val = (v: unknown): string => (v === undefined ? '' : JSON.stringify(v));
  const field = (indent: string, f: FieldChange): string =>
    `${indent}${sign[f.kind]} ${f.path}: ${f.kind === 'changed' ? `${val(f.old)} => ${val(f.new)}` : val(f.kind === 'added' ? f.new : f.old)}`;
  const lines: string[] = [];
  for (const f of diff.fields) lines.push(field('', f));
  for (const g of diff.groups) {
    lines.push(`${sign[g.kind]} group "${g.name}"${g.destructive.length > 0 ? ' (destructive update)' : ''}`);
    for (const f of g.fields) lines.push(field('    ', f));
    for (const t of g.tasks) {
      lines.push(`    ${sign[t.kind]} task "${t.name}"`);
      for (const f of t.fields) lines.push(field('        ', f));
    }
  }
  return lines;
}
