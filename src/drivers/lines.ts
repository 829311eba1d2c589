/** Line helpers shared by the drivers' log readers. */

/** How many newline characters `data` holds. */
export function countLines(data: Buffer): number {
  let count = 0;
  for (let i = data.indexOf(10); i !== -1; i = data.indexOf(10, i + 1)) count++;
  return count;
}

/** The last `lines` lines of `data`; a last line without a newline counts as one. */
export function lastLines(data: Buffer, lines: number): Buffer {
  if (lines <= 0) return data.subarray(data.length);
  let end = data.length;
  if (end > 0 && data[end - 1] === 10) end--;
  let start = end;
  for (let seen = 0; start > 0; start--) {
    if (data[start - 1] === 10 && ++seen === lines) break;
  }
  return data.subarray(start);
}
