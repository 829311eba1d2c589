/** Compose's units (Go durations, Docker byte sizes) in berth's: durations as `Nms`, sizes in MiB. */

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration (`1m30s`, `500ms`, `1.5h`) or a number of seconds in milliseconds; undefined when it is none. */
export function durationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return value * 1000;
  if (typeof value !== 'string') return undefined;
  const s = value.trim();
  if (s === '0') return 0;
  let total = 0;
  let rest = s;
  while (rest.length > 0) {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * GO_UNITS[m[2]];
    rest = rest.slice(m[0].length);
  }
  return s.length > 0 ? Math.round(total) : undefined;
}

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A Docker byte size (`512m`, `1g`, `1024k`, `2GB`, a number of bytes) in whole MiB, rounded up; undefined when it is none. */
export function sizeMiB(value: unknown): number | undefined {
  if (typeof value === 'number') return Math.max(1, Math.ceil(value / 1024 ** 2));
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?$/i.exec(value.trim());
  if (!m) return undefined;
  return Math.max(1, Math.ceil((Number(m[1]) * BYTE_UNITS[m[2].toLowerCase()]) / 1024 ** 2));
}

/**
 * A command written as one string, split into words as Compose does (shell quoting: '...', "...",
 * backslash escapes; no expansion). Hand-written: shell-quote, the package for this, also parses
 * operators and globs that Compose passes through as words.
 */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1])) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else if (c === '\\' && i + 1 < text.length) {
      word = (word ?? '') + text[++i];
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? '') + c;
  }
  if (word !== undefined) words.push(word);
  return words;
}
