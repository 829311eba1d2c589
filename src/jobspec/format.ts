import type { ErrorDetail } from '../model/index.ts';

/**
 * One line per problem, as a compiler prints them: `web.yaml: groups[0].count: must be ...`.
 * The source (a file name) and the path are left out when empty.
 */
export function formatErrors(errors: readonly ErrorDetail[], source?: string): string {
  return errors
    .map((e) => [source, e.path, e.message].filter((part) => part !== undefined && part !== '').join(': '))
    .join('\n');
}
