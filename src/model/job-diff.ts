/** The wire shape of a job diff (computed in jobspec/diff.ts), shared by the API and the CLI. */

/** One field that differs. `path` is dotted, from the job, group or task it belongs to. */
export interface FieldChange {
  kind: 'added' | 'removed' | 'changed';
  path: string;
  old?: unknown;
  new?: unknown;
}

/** How a task or group differs; `none` when it does not. */
export type DiffKind = 'added' | 'removed' | 'changed' | 'none';

/** The diff of one task. */
export interface TaskDiff {
  name: string;
  kind: DiffKind;
  fields: FieldChange[];
}

/** The diff of one group; `destructive` lists the changed fields that need new allocations. */
export interface GroupDiff {
  name: string;
  kind: DiffKind;
  fields: FieldChange[];
  tasks: TaskDiff[];
  destructive: string[];
}

/** The diff of a job between two versions (or the registered job and a spec). */
export interface JobDiff {
  kind: DiffKind;
  /** Job-level fields (outside groups). */
  fields: FieldChange[];
  groups: GroupDiff[];
}
