import type { Constraint, ConstraintOperator, Node } from '../model/index.ts';

/**
 * The value of a node property named the way job specs name it: `${node.unique.id}`,
 * `${node.unique.name}`, `${node.datacenter}`, `${node.class}`, `${attr.<name>}`, `${meta.<name>}`.
 * The `${...}` is optional. Undefined when the node does not have the property.
 */
export function resolveAttribute(node: Node, attribute: string): string | undefined {
  let get = getters.get(attribute);
  if (get === undefined) {
    get = compileAttribute(attribute);
    if (getters.size > 10_000) getters.clear();
    getters.set(attribute, get);
  }
  return get(node);
}

/** Attribute names turned into getters once: placements resolve the same few names again and again. */
const getters = new Map<string, (node: Node) => string | undefined>();

function compileAttribute(attribute: string): (node: Node) => string | undefined {
  const name = attribute.startsWith('${') && attribute.endsWith('}') ? attribute.slice(2, -1) : attribute;
  switch (name) {
    case 'node.unique.id':
      return (n) => n.id;
    case 'node.unique.name':
      return (n) => n.name;
    case 'node.datacenter':
      return (n) => n.datacenter;
    case 'node.class':
      return (n) => n.nodeClass;
  }
  if (name.startsWith('attr.')) {
    const key = name.slice(5);
    return (n) => n.attributes[key];
  }
  if (name.startsWith('meta.')) {
    const key = name.slice(5);
    return (n) => n.meta?.[key];
  }
  // A literal (the right-hand side of a constraint may be written on the left too).
  return () => name;
}

const regexCache = new Map<string, RegExp | null>();

function regex(source: string): RegExp | null {
  let re = regexCache.get(source);
  if (re === undefined) {
    try {
      re = new RegExp(source);
    } catch {
      re = null;
    }
    if (regexCache.size > 1_000) regexCache.clear();
    regexCache.set(source, re);
  }
  return re;
}

/** Numbers compare as numbers, anything else as strings. */
function compare(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  if (a.trim() !== '' && b.trim() !== '' && Number.isFinite(x) && Number.isFinite(y)) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}

function splitSet(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** A parsed version: numeric segments, and a prerelease tag (semver only). */
interface Version {
  parts: number[];
  pre: string;
}

const versionCache = new Map<string, Version | null>();

/** Parses a version, remembering it: the same few node versions are compared again and again. */
function parseVersion(text: string, strict: boolean): Version | undefined {
  const key = strict ? `s:${text}` : text;
  let v = versionCache.get(key);
  if (v === undefined) {
    v = parseVersionUncached(text, strict) ?? null;
    if (versionCache.size > 10_000) versionCache.clear();
    versionCache.set(key, v);
  }
  return v ?? undefined;
}

function parseVersionUncached(text: string, strict: boolean): Version | undefined {
  const m = /^v?(\d+(?:\.\d+)*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(text.trim());
  if (m === null) return undefined;
  const parts = m[1].split('.').map(Number);
  if (strict && parts.length !== 3) return undefined;
  return { parts, pre: m[2] ?? '' };
}

function compareVersions(a: Version, b: Version): number {
  for (let i = 0; i < Math.max(a.parts.length, b.parts.length); i++) {
    const d = (a.parts[i] ?? 0) - (b.parts[i] ?? 0);
    if (d !== 0) return d;
  }
  // A prerelease sorts before its release (1.0.0-rc1 < 1.0.0).
  if (a.pre === b.pre) return 0;
  if (a.pre === '') return 1;
  if (b.pre === '') return -1;
  return a.pre < b.pre ? -1 : 1;
}

/** `">= 1.2, < 2.0"`: every clause must hold. Semver refuses prereleases unless a clause names one. */
function versionMatches(actual: string, spec: string, strict: boolean): boolean {
  const have = parseVersion(actual, strict);
  if (have === undefined) return false;
  let prereleaseNamed = false;
  for (const clause of splitSet(spec)) {
    const m = /^(>=|<=|!=|=|>|<|~>)?\s*(\S+)$/.exec(clause);
    const want = m && parseVersion(m[2], false);
    if (!m || !want) return false;
    if (want.pre !== '') prereleaseNamed = true;
    const c = compareVersions(have, want);
    const ok =
      m[1] === '>=' ? c >= 0 : m[1] === '<=' ? c <= 0 : m[1] === '>' ? c > 0 : m[1] === '<' ? c < 0 : m[1] === '!=' ? c !== 0 : m[1] === '~>' ? c >= 0 && pessimistic(have, want) : c === 0;
    if (!ok) return false;
  }
  return !(strict && have.pre !== '' && !prereleaseNamed);
}

/** `~> 1.2` allows 1.x from 1.2; `~> 1.2.3` allows 1.2.x from 1.2.3. */
function pessimistic(have: Version, want: Version): boolean {
  const fixed = Math.max(want.parts.length - 1, 1);
  for (let i = 0; i < fixed; i++) if ((have.parts[i] ?? 0) !== (want.parts[i] ?? 0)) return false;
  return true;
}

/**
 * Whether `lhs operator rhs` holds. `lhs` is the node's value (undefined when it does not have
 * the property). `distinct_hosts` and `distinct_property` depend on other allocations: they hold
 * here and are checked by their own checkers.
 */
export function checkOperator(operator: ConstraintOperator, lhs: string | undefined, rhs: string | undefined): boolean {
  switch (operator) {
    case 'is_set':
      return lhs !== undefined;
    case 'is_not_set':
      return lhs === undefined;
    case 'distinct_hosts':
    case 'distinct_property':
      return true;
    case '!=':
      return lhs !== rhs;
  }
  if (lhs === undefined || rhs === undefined) return false;
  switch (operator) {
    case '=':
      return lhs === rhs;
    case '<':
      return compare(lhs, rhs) < 0;
    case '<=':
      return compare(lhs, rhs) <= 0;
    case '>':
      return compare(lhs, rhs) > 0;
    case '>=':
      return compare(lhs, rhs) >= 0;
    case 'regexp':
      return regex(rhs)?.test(lhs) ?? false;
    case 'set_contains': {
      const have = new Set(splitSet(lhs));
      return splitSet(rhs).every((v) => have.has(v));
    }
    case 'set_contains_any': {
      const have = new Set(splitSet(lhs));
      return splitSet(rhs).some((v) => have.has(v));
    }
    case 'version':
      return versionMatches(lhs, rhs, false);
    case 'semver':
      return versionMatches(lhs, rhs, true);
  }
}

/** Whether a node satisfies a (non-distinct) constraint. */
export function nodeMatches(node: Node, constraint: Pick<Constraint, 'attribute' | 'operator' | 'value'>): boolean {
  const lhs = resolveAttribute(node, constraint.attribute);
  const rhs = constraint.value === undefined ? undefined : resolveAttribute(node, constraint.value);
  return checkOperator(constraint.operator, lhs, rhs);
}

/** The short, stable reason a node fails a constraint: `constraint ${attr.os} = linux`. */
export function constraintReason(constraint: Constraint): string {
  const rhs = constraint.value === undefined ? '' : ` ${constraint.value}`;
  return `constraint ${constraint.attribute} ${constraint.operator}${rhs}`;
}
