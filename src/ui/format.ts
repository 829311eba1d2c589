/** How the UI writes times, ids and sizes: as the CLI does (ids shortened to 8 characters). */

/** The first 8 characters of an id, as `berth alloc status` prints it. */
export function shortId(id: string | undefined): string {
  return id ? id.slice(0, 8) : '';
}

/** "3s ago", "in 5m": relative to now. */
export function relTime(ms: number | undefined, now = Date.now()): string {
  if (!ms) return '';
  const d = Math.round((ms - now) / 1000);
  const a = Math.abs(d);
  const text = a < 60 ? `${a}s` : a < 3600 ? `${Math.floor(a / 60)}m` : a < 86400 ? `${Math.floor(a / 3600)}h` : `${Math.floor(a / 86400)}d`;
  return d <= 0 ? `${text} ago` : `in ${text}`;
}

/** The absolute time, for a title attribute beside a relative one. */
export function absTime(ms: number | undefined): string {
  return ms ? new Date(ms).toLocaleString() : '';
}

/** Bytes as KiB, MiB or GiB. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** The message of an error the client threw, with its details, one a line. */
export function errorText(err: unknown): { message: string; details: { path: string; message: string }[] } {
  const e = err as { message?: string; details?: { path: string; message: string }[] };
  return { message: e?.message ?? String(err), details: e?.details ?? [] };
}
