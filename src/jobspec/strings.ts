import { indexPath, isMap, keyPath, type Problems } from './reader.ts';

/**
 * Every string of a spec, keys included, must be text a task can be given: no NUL byte (a C string
 * ends there, so `exec` and the environment would silently cut it) and no lone UTF-16 surrogate
 * (it has no UTF-8 form, so what reaches the task would not be what was written). Walks the value
 * with a stack, not recursion, so that a deeply nested spec cannot overflow it, and each object
 * once, so that a cyclic one (YAML aliases) ends.
 */
export function checkStrings(input: unknown, problems: Problems): void {
  const stack: { value: unknown; path: string }[] = [{ value: input, path: '' }];
  // YAML anchors make shared and even cyclic values (`&a [*a]`): each object is walked once.
  const seen = new Set<object>();
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (typeof value === 'object' && value !== null) {
      if (seen.has(value)) continue;
      seen.add(value);
    }
    if (typeof value === 'string') {
      const problem = badText(value);
      if (problem) problems.add(path, problem);
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => stack.push({ value: item, path: indexPath(path, i) }));
    } else if (isMap(value)) {
      for (const [key, item] of Object.entries(value)) {
        const at = keyPath(path, key);
        const problem = badText(key);
        if (problem) problems.add(at, `key ${problem}`);
        stack.push({ value: item, path: at });
      }
    }
  }
}

/** With the u flag a paired surrogate reads as one code point, so only a lone one is a Cs code point. */
const LONE_SURROGATE = /\p{Cs}/u;

/** What is wrong with a string as text for a task, if anything. */
function badText(s: string): string | undefined {
  if (s.includes('\0')) return 'must not contain a NUL byte (\\u0000); remove it';
  if (LONE_SURROGATE.test(s)) return 'must be valid Unicode: it has a lone surrogate (half of a UTF-16 pair); fix the escape that made it';
  return undefined;
}
