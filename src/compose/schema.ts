/**
 * The Compose Specification's JSON Schema (compose-spec.json, from the compose-spec repository; see
 * README.md for the commit) checked with ajv. Problems come back as dotted paths into the file.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import schema from './compose-spec.json' with { type: 'json' };

export interface SchemaProblem {
  path: string;
  message: string;
}

let compiled: ValidateFunction | undefined;

/** Compiled once, on first use: most commands never read a Compose file. */
function validator(): ValidateFunction {
  // strict: false: the schema uses `deprecated` and other annotations draft-07 does not define.
  // validateSchema: false: its $schema URL lacks draft-07's trailing '#', which ajv would not find.
  compiled ??= new Ajv({ strict: false, allErrors: true, validateSchema: false }).compile(schema);
  return compiled;
}

/** JSON Pointer `/services/web/ports/0` as `services.web.ports[0]`. */
function dotted(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

/**
 * Ajv reports every branch of a oneOf that failed; keep what a person can act on: an unknown key
 * by name, a wrong type once per path, and the oneOf summary only when nothing more precise was said.
 */
function readable(errors: ErrorObject[]): SchemaProblem[] {
  const out = new Map<string, string>();
  for (const e of errors) {
    const at = dotted(e.instancePath) || '(top level)';
    if (e.keyword === 'additionalProperties') {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      out.set(`${at}.${key}`, `unknown key "${key}" (the Compose Specification has no such key here; berth-only settings go under x-berth)`);
    } else if (e.keyword === 'oneOf' || e.keyword === 'anyOf') {
      if (![...out.keys()].some((k) => k.startsWith(at))) out.set(at, 'matches none of the forms the Compose Specification allows here');
    } else if (!out.has(at)) out.set(at, e.message ?? 'invalid');
  }
  return [...out].map(([path, message]) => ({ path, message }));
}

/** Problems of one parsed file against the schema; empty when valid. */
export function checkSchema(file: unknown): SchemaProblem[] {
  const validate = validator();
  if (validate(file)) return [];
  return readable(validate.errors ?? []);
}
