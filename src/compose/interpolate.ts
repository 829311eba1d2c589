/**
 * Compose's variable interpolation (compose-spec 12-interpolation.md) over a parsed file: `$VAR`,
 * `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`,
 * `${VAR+alt}`, defaults that interpolate in turn (`${A:-${B}}`), and `$$` for a literal `$`.
 *
 * Written by hand: the npm packages for this (envsubst ports, dotenv-expand) implement the POSIX
 * shell's or dotenv's rules, not Compose's: none has the `?` error forms reported with the key's
 * path, and dotenv-expand writes into process.env. The grammar is a few lines of recursive descent.
 */
import { Tagged, isMap } from './tags.ts';

/** A variable's value, undefined when unset. */
export type Lookup = (name: string) => string | undefined;

/** An unset required variable (`${VAR:?message}`), with the path of the value that asked for it. */
export interface InterpolationProblem {
  path: string;
  message: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Interpolates one string; problems are added to `problems` with `path`. */
export function interpolateString(text: string, lookup: Lookup, at: { path: string; problems: InterpolationProblem[] }): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '$') {
      out += c;
      i += 1;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '{') {
      const end = closingBrace(text, i + 2);
      if (end < 0) {
        at.problems.push({ path: at.path, message: `invalid interpolation format "${text.slice(i)}": no closing "}"; write "$$" for a literal "$"` });
        return text;
      }
      out += braced(text.slice(i + 2, end), lookup, at);
      i = end + 1;
    } else {
      const m = NAME.exec(text.slice(i + 1));
      if (m) {
        out += lookup(m[0]) ?? '';
        i += 1 + m[0].length;
      } else {
        out += '$';
        i += 1;
      }
    }
  }
  return out;
}

/** The index of the `}` closing a `${` whose body starts at `from`, nested `${...}` skipped; -1 if none. */
function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    if (text[i] === '$' && text[i + 1] === '$') i += 1;
    else if (text[i] === '$' && text[i + 1] === '{') {
      depth += 1;
      i += 1;
    } else if (text[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

/** The value of the body of `${...}`: a name, then an optional operator and its word. */
function braced(body: string, lookup: Lookup, at: { path: string; problems: InterpolationProblem[] }): string {
  const m = NAME.exec(body);
  if (!m) {
    at.problems.push({ path: at.path, message: `invalid interpolation format "\${${body}}": expected a variable name` });
    return '';
  }
  const name = m[0];
  const rest = body.slice(name.length);
  const value = lookup(name);
  if (rest === '') return value ?? '';
  const op = /^(:?[-?+])/.exec(rest)?.[1];
  if (!op) {
    at.problems.push({ path: at.path, message: `invalid interpolation format "\${${body}}": after the name expected }, :-, -, :?, ?, :+ or +` });
    return '';
  }
  const word = (): string => interpolateString(rest.slice(op.length), lookup, at);
  // With a colon, an empty value counts as unset (as in the shell).
  const unset = op.startsWith(':') ? value === undefined || value === '' : value === undefined;
  switch (op.replace(':', '')) {
    case '-':
      return unset ? word() : (value ?? '');
    case '+':
      return unset ? '' : word();
    default:
      if (unset) at.problems.push({ path: at.path, message: `required variable ${name} is ${value === undefined ? 'missing' : 'empty'}: ${word() || `set ${name} in the environment or the .env file`}` });
      return value ?? '';
  }
}

/**
 * Interpolates every string of a parsed YAML tree (values, and mapping keys as Compose does not:
 * keys stay as written). Returns a new tree; problems carry the dotted path of each value.
 */
export function interpolateTree(value: unknown, lookup: Lookup, at: { path: string; problems: InterpolationProblem[] }): unknown {
  if (value instanceof Tagged) return new Tagged(value.tag, interpolateTree(value.value, lookup, at));
  if (typeof value === 'string') return interpolateString(value, lookup, at);
  if (Array.isArray(value)) return value.map((v, i) => interpolateTree(v, lookup, { path: `${at.path}[${i}]`, problems: at.problems }));
  if (isMap(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateTree(v, lookup, { path: at.path ? `${at.path}.${k}` : k, problems: at.problems });
    return out;
  }
  return value;
}
