/** How the CLI prints: tables for people, JSON for programs, errors to stderr. */
import { paint, statusStyle } from './colour.ts';

/** Columns whose words get their status colour (on a terminal). */
const STATUS_COLUMNS = new Set(['Status', 'Desired', 'Eligibility']);

/** Print rows as an aligned table with a header (bold on a terminal, status words coloured). */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const cell = (c: string, i: number, row: number, last: boolean): string => {
    const pad = last ? '' : ' '.repeat(widths[i] - c.length);
    if (row === 0) return paint('bold', c) + pad;
    const style = STATUS_COLUMNS.has(headers[i]) ? statusStyle(c) : undefined;
    // Padded outside the escapes, so that the columns stay aligned.
    return (style ? paint(style, c) : c) + pad;
  };
  return cells.map((r, row) => r.map((c, i) => cell(c, i, row, i === r.length - 1)).join('  ')).join('\n');
}

/** Print `key = value` lines, aligned. */
export function fields(pairs: [string, string | number | undefined][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)} = ${v ?? '<none>'}`).join('\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** A time as people read it: `2026-11-24T16:03:52Z (5s ago)`. */
export function when(ms: number | undefined, now = Date.now()): string {
  if (!ms) return '-';
  const at = new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
  return ms > now + 1000 ? `${at} (in ${ago(ms - now).replace(/ ago$/, '')})` : `${at} (${ago(now - ms)})`;
}

/** A duration as people read it: `3s`, `4m10s`, `2h5m`. */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s ago`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m ago`;
}
