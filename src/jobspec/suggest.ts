/** Longest key worth comparing; anything longer is noise, and comparing it would cost for nothing. */
const MAX_KEY = 64;

/**
 * Edit distance between two short strings, counting a swap of neighbours as one edit (optimal
 * string alignment), since `fial` for `fail` is one slip of the fingers, not two.
 */
export function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j], before[j - 2] + 1);
    }
    before = prev;
    prev = row;
  }
  return prev[b.length];
}

/** `killTimeout`, `kill-timeout` and `KILL_TIMEOUT` all mean `kill_timeout`. */
function fold(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '');
}

/**
 * The known key a mistyped one most likely meant, or undefined when none is close: same letters
 * in another case style, or within an edit distance that grows with the word (1 for short words,
 * up to 3).
 */
export function closest(key: string, known: readonly string[]): string | undefined {
  if (key.length > MAX_KEY) return undefined;
  const folded = fold(key);
  const sameWord = known.find((k) => fold(k) === folded);
  if (sameWord !== undefined) return sameWord;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(folded, fold(candidate));
    const allowed = Math.min(3, Math.max(1, Math.floor(candidate.length / 3)));
    if (distance <= allowed && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
