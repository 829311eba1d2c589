/** A Compose project as berth reads it: the merged, interpolated model in the spec's long forms. */

/** A service of the model; keys as the Compose Specification names them, long forms (normalize.ts). */
export type ComposeService = Record<string, unknown> & {
  image?: string;
  profiles?: string[];
  depends_on?: Record<string, { condition?: string; required?: boolean; restart?: boolean }>;
};

/** The resolved project: what `berth compose config` prints. */
export interface ComposeProject {
  /** The project name: lowercase letters, digits, `-` and `_`. */
  name: string;
  /** The directory relative paths were read against (the first file's). */
  workingDir: string;
  /** The files read, in merge order. */
  files: string[];
  services: Record<string, ComposeService>;
  networks: Record<string, unknown>;
  volumes: Record<string, unknown>;
  secrets: Record<string, unknown>;
  configs: Record<string, unknown>;
  /** Top-level `x-` keys (x-berth among them). */
  extensions: Record<string, unknown>;
  /** The variables interpolation saw: the shell's over the .env file's. */
  environment: Record<string, string>;
}

/** Something the reader or the mapping does not honour, named by its path. */
export interface ComposeWarning {
  path: string;
  message: string;
}

/** A problem that stops the project from being read: a path and what to do. */
export interface ComposeProblem {
  path: string;
  message: string;
}

/** Reading either gives a project or every problem found. */
export type LoadResult = { ok: true; project: ComposeProject; warnings: ComposeWarning[] } | { ok: false; problems: ComposeProblem[] };
