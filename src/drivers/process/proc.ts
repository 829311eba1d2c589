import { constants, readFileSync } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

/**
 * The start time of process `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat), or 0
 * when it cannot be read (no such process, or no /proc). Together with the pid it names one
 * process for good: a pid can be reused, a (pid, start time) pair cannot.
 */
export function processStartTime(pid: number): number {
  const fields = statFields(pid);
  return fields ? Number(fields[19]) : 0;
}

/**
 * Whether the process `pid` that started at `startTime` still runs. A zombie counts as gone, and
 * so does a process with that pid but another start time (the pid was reused). Without /proc
 * (not Linux) only the pid is checked.
 */
export function isRunning(pid: number, startTime: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const fields = statFields(pid);
  if (fields) {
    const state = fields[0];
    if (state === 'Z' || state === 'X' || state === 'x') return false;
    return startTime === 0 || Number(fields[19]) === startTime;
  }
  if (hasProc) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const hasProc = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number): string[] | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** Where a command was found, or why it was not. */
export type ResolvedCommand = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Finds `command` as the shell would: a name with a slash relative to `cwd`, any other name in
 * `PATH` (an empty entry meaning `cwd`). Done before spawning so that a typo fails `start` with
 * a clear message instead of a task that exits 127.
 */
export async function resolveCommand(command: string, path: string, cwd: string): Promise<ResolvedCommand> {
  if (command.includes('/')) {
    const full = isAbsolute(command) ? command : resolve(cwd, command);
    const problem = await executableProblem(full);
    return problem === null ? { ok: true, path: full } : { ok: false, reason: `command "${command}" ${problem}` };
  }
  let notExecutable: string | null = null;
  for (const dir of path.split(delimiter)) {
    const full = join(dir === '' ? cwd : resolve(cwd, dir), command);
    const problem = await executableProblem(full);
    if (problem === null) return { ok: true, path: full };
    if (problem === 'is not executable') notExecutable ??= full;
  }
  if (notExecutable !== null) return { ok: false, reason: `command "${command}" (${notExecutable}) is not executable` };
  return { ok: false, reason: `command "${command}" not found` };
}

/** Null when `file` is an executable file; otherwise what is wrong with it. */
async function executableProblem(file: string): Promise<string | null> {
  try {
    const info = await stat(file);
    if (!info.isFile()) return 'is not a file';
    await access(file, constants.X_OK);
    return null;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EACCES' ? 'is not executable' : 'not found';
  }
}
