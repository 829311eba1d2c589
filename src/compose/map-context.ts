/** What every part of the mapping shares: the project, file access, and where warnings and problems go. */
import type { ReadFile } from './load.ts';
import type { ComposeProblem, ComposeProject, ComposeWarning } from './types.ts';

export interface MapContext {
  project: ComposeProject;
  read: ReadFile;
  /** How many nodes the project may run on (build without an image is refused above 1). */
  nodes: number;
  warnings: ComposeWarning[];
  problems: ComposeProblem[];
}

/** A berth name (job id part, group, task, DNS label) from a Compose one: lowercase, `.` and other characters as `-`. */
export function berthName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_-]/g, '-').replace(/^[^a-z0-9]+/, '');
}

/** A DNS label: lowercase letters, digits and `-` only. */
export function dnsLabel(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '');
}

/** The job that runs a service: `<project>-<service>`. */
export function jobIdOf(project: string, service: string): string {
  return `${project}-${berthName(service)}`;
}

export type Obj = Record<string, unknown>;

/** A mapping or undefined. */
export function obj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}
