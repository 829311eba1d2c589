/** Hosts as network namespaces: the `ip` command, and why a test cannot make them here. */
import { execFileSync } from 'node:child_process';

/** Run `ip ARGS...`; throws with its stderr when it fails. */
export function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

/** Why network namespaces cannot be made here (not root, no iproute2), or undefined when they can. */
export function netnsProblem(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for ip netns';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'pipe' });
  } catch {
    return 'needs the ip command (iproute2)';
  }
  return undefined;
}
