import fs from 'node:fs';
import path from 'node:path';
import type { PemPair } from './certs.ts';

/** Read a PEM file, or throw an error that names it, says what it was for and why it failed. */
export function readPem(file: string, what: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new Error(`cannot read the ${what} ${file}: ${why}`);
  }
  if (!text.includes('-----BEGIN ')) throw new Error(`the ${what} ${file} is not PEM (no "-----BEGIN" line)`);
  return text;
}

/** The file names of a pair: `<base>.pem` and `<base>-key.pem`, as Nomad's. */
export function pairFiles(dir: string, base: string): { cert: string; key: string } {
  return { cert: path.join(dir, `${base}.pem`), key: path.join(dir, `${base}-key.pem`) };
}

/**
 * Write a certificate (mode 644) and its key (mode 600) as `<base>.pem` and `<base>-key.pem` in
 * `dir`. Refuses to replace either file: a CA or key overwritten by mistake cannot be had back.
 * Returns the paths written.
 */
export function writePair(dir: string, base: string, pair: PemPair): { cert: string; key: string } {
  const files = pairFiles(dir, base);
  for (const f of [files.cert, files.key]) {
    if (fs.existsSync(f)) throw new Error(`${f} already exists; move it away or write elsewhere (--dir)`);
  }
  fs.mkdirSync(dir, { recursive: true });
  // `wx`: fail rather than follow a file made in between; the mode applies from creation on.
  fs.writeFileSync(files.key, pair.key, { mode: 0o600, flag: 'wx' });
  fs.writeFileSync(files.cert, pair.cert, { mode: 0o644, flag: 'wx' });
  return files;
}
