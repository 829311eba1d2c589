/**
 * AES-256-GCM sealing with node:crypto, and the key-encryption key file. Used for variables (under
 * a data key, the path as additional data) and for wrapping data keys (under the key-encryption
 * key, the key id as additional data), so a ciphertext moved to another path or key id is refused.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { BerthError } from '../../model/index.ts';

/** The length of every key: AES-256. */
export const KEY_BYTES = 32;
/** GCM's recommended nonce length; random per message (a key seals far fewer than 2^32 messages before rotation). */
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** A sealed message: nonce and ciphertext with the tag last, both base64. */
export interface Sealed {
  nonce: string;
  ciphertext: string;
}

/** A new random key. */
export function newKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** Encrypt and authenticate `plaintext`; `aad` is authenticated too, not stored. */
export function seal(key: Buffer, plaintext: Buffer, aad: string): Sealed {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { nonce: nonce.toString('base64'), ciphertext: body.toString('base64') };
}

/** Decrypt what `seal` made with the same key and `aad`; throws if either differs or a byte changed. */
export function unseal(key: Buffer, sealed: Sealed, aad: string): Buffer {
  const body = Buffer.from(sealed.ciphertext, 'base64');
  const nonce = Buffer.from(sealed.nonce, 'base64');
  if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) throw new Error('malformed ciphertext');
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
  return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
}

/**
 * The key-encryption key from its file (32 bytes, base64, one line), made with mode 600 when
 * `create` and it does not exist. Refused when readable by others or not a key, naming the fix.
 */
export async function loadKek(file: string, create: boolean): Promise<Buffer> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !create) {
      throw new BerthError('invalid_input', `Cannot read the keyring key-encryption key ${file}: ${(err as Error).message} (give the file every server shares with --keyring-kek)`);
    }
    const key = newKey();
    await fs.mkdir(path.dirname(file), { recursive: true });
    try {
      // `wx`: two processes starting at once do not overwrite each other's key.
      await fs.writeFile(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      return key;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      text = await fs.readFile(file, 'utf8');
    }
  }
  const stat = await fs.stat(file);
  if ((stat.mode & 0o077) !== 0) {
    throw new BerthError('invalid_input', `Cannot use the keyring key-encryption key ${file}: other users may read it (mode ${(stat.mode & 0o777).toString(8)}); run \`chmod 600 ${file}\``);
  }
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== KEY_BYTES || key.toString('base64') !== text.trim()) {
    throw new BerthError('invalid_input', `Cannot use the keyring key-encryption key ${file}: expected ${KEY_BYTES} bytes in base64 on one line (make one with \`head -c 32 /dev/urandom | base64 > ${file}\`)`);
  }
  return key;
}
