/**
 * Consul's `?filter=` expressions (go-bexpr), the common part: `Selector == "v"`, `!=`,
 * `contains`, `not contains`, `in`, `not in`, `is empty`, `is not empty`, `matches`,
 * `not matches`, joined with `and`, `or`, `not` and parentheses. A selector is a dotted path into
 * the JSON the endpoint returns; through a list it matches when any element does.
 */
import { BerthError } from '../../model/index.ts';

type Expr = { op: 'and' | 'or'; a: Expr; b: Expr } | { op: 'not'; a: Expr } | { op: 'match'; path: string[]; test: string; value?: string };

const TOKEN = /\s*(\(|\)|"(?:[^"\\]|\\.)*"|`[^`]*`|==|!=|[A-Za-z0-9_.\-/:]+)/y;

/** A compiled filter: true for the items to keep. Throws invalid_input on a malformed expression. */
// eslint-disable-next-line max-lines-per-function -- one recursive-descent parser: its rules are closures over one token position
export function compileFilter(text: string): (item: unknown) => boolean {
  const tokens = tokenize(text);
  let pos = 0;
  const bad = (why: string): never => {
    throw new BerthError('invalid_input', `Cannot parse filter "${text}": ${why}`, [{ path: 'filter', message: why }]);
  };
  const peek = (): string | undefined => tokens[pos];
  const word = (w: string): boolean => peek()?.toLowerCase() === w && (pos++, true);
  const value = (): string => {
    const t = tokens[pos++];
    if (t === undefined) return bad('expected a value at the end');
    return /^["`]/.test(t) ? JSON.parse(t.startsWith('`') ? JSON.stringify(t.slice(1, -1)) : t) : t;
  };
  const primary = (): Expr => {
    if (word('not')) return { op: 'not', a: primary() };
    if (word('(')) {
      const e = or();
      if (!word(')')) bad('missing ")"');
      return e;
    }
    const first = tokens[pos++];
    if (first === undefined) return bad('expected a selector');
    // `"v" in Selector` reads as `Selector contains "v"`.
    if (/^["`]/.test(first)) {
      pos--;
      const v = value();
      const negate = word('not');
      if (!word('in')) bad(`expected "in" after ${first}`);
      const path = tokens[pos++] ?? bad('expected a selector after "in"');
      const m: Expr = { op: 'match', path: path.split('.'), test: 'contains', value: v };
      return negate ? { op: 'not', a: m } : m;
    }
    const path = first.split('.');
    if (word('==')) return { op: 'match', path, test: '==', value: value() };
    if (word('!=')) return { op: 'not', a: { op: 'match', path, test: '==', value: value() } };
    if (word('is')) {
      const negate = word('not');
      if (!word('empty')) bad('expected "empty" after "is"');
      const m: Expr = { op: 'match', path, test: 'empty' };
      return negate ? { op: 'not', a: m } : m;
    }
    const negate = word('not');
    for (const test of ['contains', 'matches']) {
      if (word(test)) {
        const m: Expr = { op: 'match', path, test, value: value() };
        return negate ? { op: 'not', a: m } : m;
      }
    }
    return bad(`expected an operator after "${first}" (==, !=, contains, matches, is empty)`);
  };
  const and = (): Expr => {
    let e = primary();
    while (word('and')) e = { op: 'and', a: e, b: primary() };
    return e;
  };
  const or = (): Expr => {
    let e = and();
    while (word('or')) e = { op: 'or', a: e, b: and() };
    return e;
  };
  const expr = or();
  if (pos < tokens.length) bad(`unexpected "${tokens[pos]}"`);
  return (item) => evaluate(expr, item);
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  let rest = text.trim();
  while (rest.length > 0) {
    TOKEN.lastIndex = 0;
    const m = TOKEN.exec(rest);
    if (!m) throw new BerthError('invalid_input', `Cannot parse filter "${text}": unexpected "${rest.slice(0, 20)}"`, [{ path: 'filter', message: 'invalid token' }]);
    tokens.push(m[1]);
    rest = rest.slice(m[0].length).trimStart();
  }
  return tokens;
}

function evaluate(e: Expr, item: unknown): boolean {
  switch (e.op) {
    case 'and':
      return evaluate(e.a, item) && evaluate(e.b, item);
    case 'or':
      return evaluate(e.a, item) || evaluate(e.b, item);
    case 'not':
      return !evaluate(e.a, item);
    case 'match':
      return resolve(item, e.path).some((v) => test(e.test, v, e.value ?? ''));
  }
}

/** Every value the path reaches; lists fan out. */
function resolve(item: unknown, path: string[]): unknown[] {
  let values: unknown[] = [item];
  for (const key of path) {
    const next: unknown[] = [];
    for (const v of values) {
      const list = Array.isArray(v) ? v : [v];
      for (const x of list) if (x !== null && typeof x === 'object' && Object.hasOwn(x, key)) next.push((x as Record<string, unknown>)[key]);
    }
    values = next;
  }
  return values.length === 0 ? [undefined] : values;
}

function test(kind: string, v: unknown, want: string): boolean {
  switch (kind) {
    case '==':
      return Array.isArray(v) ? v.some((x) => String(x) === want) : v !== undefined && String(v) === want;
    case 'contains':
      if (Array.isArray(v)) return v.some((x) => String(x) === want);
      if (v !== null && typeof v === 'object') return Object.hasOwn(v, want);
      return typeof v === 'string' && v.includes(want);
    case 'matches':
      return typeof v === 'string' && new RegExp(want).test(v);
    case 'empty':
      if (v === undefined || v === null || v === '') return true;
      if (Array.isArray(v)) return v.length === 0;
      return typeof v === 'object' && Object.keys(v).length === 0;
    default:
      return false;
  }
}
