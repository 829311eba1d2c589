import type { ErrorDetail } from '../model/index.ts';
import { closest } from './suggest.ts';
import { describeValue, type Parsed } from './units.ts';

/** Past this many, more problems add nothing but noise (and hostile input could make millions). */
const MAX_PROBLEMS = 100;
/** Keys longer than this are cut in paths, so that a path stays readable. */
const MAX_PATH_KEY = 64;

/** Collects every problem found in one input, each at its path. */
export class Problems {
  readonly list: ErrorDetail[] = [];
  private dropped = 0;

  add(path: string, message: string): void {
    if (this.list.length < MAX_PROBLEMS) this.list.push({ path, message });
    else this.dropped++;
  }

  get empty(): boolean {
    return this.list.length === 0;
  }

  /** The problems, with a last line saying how many were left out, if any were. */
  result(): ErrorDetail[] {
    if (this.dropped === 0) return this.list;
    return [...this.list, { path: '', message: `${this.dropped} more problems not shown` }];
  }
}

/** The path of a key below `path`: `a.b` for identifiers, `a["odd key"]` for anything else. */
export function keyPath(path: string, key: string): string {
  const cut = key.length > MAX_PATH_KEY ? `${key.slice(0, MAX_PATH_KEY)}…` : key;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(cut)) return `${path}[${JSON.stringify(cut)}]`;
  return path === '' ? cut : `${path}.${cut}`;
}

/** The path of a list element: `a[3]`. */
export function indexPath(path: string, index: number): string {
  return `${path}[${index}]`;
}

/** True for a plain map (not a list, not null). */
export function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The kind of value a field must hold, for messages: "must be an integer", "must be a map". */
function must(what: string, value: unknown): string {
  return `must be ${what}, got ${describeValue(value)}`;
}

/** Options of `MapReader.string`. */
export interface StringRule {
  /** The value must match; default: any non-empty string. */
  pattern?: RegExp;
  /** Says the rule in words, for the message; default: the pattern's source. */
  patternHelp?: string;
  /** Record "required" when absent; default false. */
  required?: boolean;
}

/**
 * Reads the fields of one map of the spec, recording a problem for each field that is wrong and
 * returning the field's default in its place, so that one pass finds every problem.
 */
export class MapReader {
  private constructor(
    readonly map: Record<string, unknown>,
    readonly path: string,
    readonly problems: Problems,
  ) {}

  /**
   * Opens `value` as a map with the given known keys; each other key is a problem with a
   * "did you mean" when one is close. Undefined (and a problem) when `value` is not a map.
   */
  static open(value: unknown, at: { path: string; problems: Problems }, known: readonly string[]): MapReader | undefined {
    const { path, problems } = at;
    if (!isMap(value)) {
      problems.add(path, must('a map', value));
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue;
      const guess = closest(key, known);
      const hint = guess === undefined ? `known fields are ${known.join(', ')}` : `did you mean "${guess}"?`;
      problems.add(keyPath(path, key), `unknown field; ${hint}`);
    }
    return new MapReader(value, path, problems);
  }

  /** True when the key holds a value. YAML's empty value (null) counts as absent, so defaults apply. */
  /** The map under `key`, opened as `MapReader.open` does; undefined (and a problem) when it is not a map. */
  child(key: string, known: readonly string[]): MapReader | undefined {
    return MapReader.open(this.get(key), { path: this.pathOf(key), problems: this.problems }, known);
  }

  has(key: string): boolean {
    return Object.hasOwn(this.map, key) && this.map[key] !== null && this.map[key] !== undefined;
  }

  get(key: string): unknown {
    return this.has(key) ? this.map[key] : undefined;
  }

  pathOf(key: string): string {
    return keyPath(this.path, key);
  }

  problem(key: string, message: string): void {
    this.problems.add(this.pathOf(key), message);
  }

  /** A string field; `fallback` when absent or wrong. */
  string(key: string, fallback: string, rule: StringRule = {}): string {
    if (!this.has(key)) {
      if (rule.required) this.problem(key, 'required');
      return fallback;
    }
    const value = this.map[key];
    if (typeof value !== 'string' || value === '') {
      this.problem(key, must('a non-empty string', value));
      return fallback;
    }
    if (rule.pattern !== undefined && !rule.pattern.test(value)) {
      this.problem(key, must(rule.patternHelp ?? `a string matching ${rule.pattern.source}`, value));
      return fallback;
    }
    return value;
  }

  /** An integer field within [min, max]; `fallback` when absent or wrong. */
  int(key: string, fallback: number, range: { min: number; max: number }): number {
    if (!this.has(key)) return fallback;
    const value = this.map[key];
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.problem(key, must('an integer', value));
      return fallback;
    }
    if (value < range.min || value > range.max) {
      this.problem(key, must(`between ${range.min} and ${range.max}`, value));
      return fallback;
    }
    return value;
  }

  /** A true/false field; `fallback` when absent or wrong. */
  bool(key: string, fallback: boolean): boolean {
    if (!this.has(key)) return fallback;
    const value = this.map[key];
    if (typeof value === 'boolean') return value;
    this.problem(key, must('true or false', value));
    return fallback;
  }

  /** A field restricted to a few words; `fallback` when absent or wrong. */
  oneOf<T extends string, F extends T | undefined>(key: string, values: readonly T[], fallback: F): T | F {
    if (!this.has(key)) return fallback;
    const value = this.map[key];
    if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as T;
    const guess = typeof value === 'string' ? closest(value, values) : undefined;
    const hint = guess === undefined ? '' : `; did you mean "${guess}"?`;
    this.problem(key, `${must(`one of ${values.join(', ')}`, value)}${hint}`);
    return fallback;
  }

  /** A quantity read by one of the unit parsers (durations, sizes, cpu); `fallback` when absent or wrong. */
  quantity(key: string, parse: (value: unknown) => Parsed<number>, fallback: number): number {
    if (!this.has(key)) return fallback;
    const parsed = parse(this.map[key]);
    if (parsed.ok) return parsed.value;
    this.problem(key, parsed.error);
    return fallback;
  }

  /** A list field; `[]` when absent or wrong. */
  list(key: string, what: string): unknown[] {
    if (!this.has(key)) return [];
    const value = this.map[key];
    if (Array.isArray(value)) return value;
    this.problem(key, must(`a list of ${what}`, value));
    return [];
  }

  /**
   * A map of strings (env, meta). Numbers and booleans become strings, because YAML turns
   * `DEBUG: true` into a boolean the user meant as text.
   */
  stringMap(key: string, keyRule?: { pattern: RegExp; help: string }): Record<string, string> {
    if (!this.has(key)) return {};
    const value = this.map[key];
    if (!isMap(value)) {
      this.problem(key, must('a map of strings', value));
      return {};
    }
    const entries: [string, string][] = [];
    for (const [k, v] of Object.entries(value)) {
      const path = keyPath(this.pathOf(key), k);
      if (keyRule !== undefined && !keyRule.pattern.test(k)) {
        this.problems.add(path, `invalid key; keys must be ${keyRule.help}`);
      } else if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) {
        entries.push([k, String(v)]);
      } else {
        this.problems.add(path, must('a string, number or boolean', v));
      }
    }
    // fromEntries defines own properties, so a "__proto__" key stays data, not a prototype.
    return Object.fromEntries(entries);
  }
}
