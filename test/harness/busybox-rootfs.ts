import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** One entry of a root filesystem archive. */
type Entry =
  | { type: 'dir'; path: string; mode: number }
  | { type: 'file'; path: string; mode: number; data: Buffer }
  | { type: 'symlink'; path: string; target: string };

/**
 * A tar archive of a tiny root filesystem around a static busybox: `/bin/busybox`, a link per
 * applet (`/bin/sh`, `/bin/httpd`, ...), `/tmp` and `/www/index.html` ("hi"). `docker import`
 * turns it into the test image. Built in memory so tests need neither tar nor a scratch dir.
 */
export function busyboxRootfsTar(busyboxPath = '/bin/busybox'): Buffer {
  let binary: Buffer;
  let applets: string[];
  try {
    binary = readFileSync(busyboxPath);
    applets = execFileSync(busyboxPath, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch (error) {
    throw new Error(`Cannot build the test image's root filesystem: busybox at "${busyboxPath}" is unusable (install busybox-static): ${(error as Error).message}`);
  }
  const entries: Entry[] = [
    { type: 'dir', path: 'bin/', mode: 0o755 },
    { type: 'dir', path: 'etc/', mode: 0o755 },
    { type: 'dir', path: 'tmp/', mode: 0o1777 },
    { type: 'dir', path: 'www/', mode: 0o755 },
    { type: 'file', path: 'bin/busybox', mode: 0o755, data: binary },
    { type: 'file', path: 'etc/passwd', mode: 0o644, data: Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n') },
    { type: 'file', path: 'etc/group', mode: 0o644, data: Buffer.from('root:x:0:\nnogroup:x:65534:\n') },
    { type: 'file', path: 'www/index.html', mode: 0o644, data: Buffer.from('hi\n') },
  ];
  // The applet named "busybox" would replace the binary with a link to itself.
  for (const applet of applets) {
    if (applet !== 'busybox') entries.push({ type: 'symlink', path: `bin/${applet}`, target: 'busybox' });
  }
  return tar(entries);
}

/** A ustar archive of `entries`, owned by root. */
function tar(entries: Entry[]): Buffer {
  const blocks: Buffer[] = [];
  const mtime = Math.floor(Date.now() / 1000);
  for (const entry of entries) {
    const size = entry.type === 'file' ? entry.data.length : 0;
    blocks.push(header(entry, size, mtime));
    if (entry.type === 'file') {
      blocks.push(entry.data);
      const padding = (512 - (size % 512)) % 512;
      if (padding > 0) blocks.push(Buffer.alloc(padding));
    }
  }
  // Two empty blocks end the archive.
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function header(entry: Entry, size: number, mtime: number): Buffer {
  if (Buffer.byteLength(entry.path) > 100) throw new Error(`Cannot archive "${entry.path}": path longer than 100 bytes`);
  const block = Buffer.alloc(512);
  const mode = entry.type === 'symlink' ? 0o777 : entry.mode;
  block.write(entry.path, 0, 100, 'utf8');
  block.write(octal(mode, 7), 100);
  block.write(octal(0, 7), 108);
  block.write(octal(0, 7), 116);
  block.write(octal(size, 11), 124);
  block.write(octal(mtime, 11), 136);
  block.write(' '.repeat(8), 148);
  block.write(entry.type === 'file' ? '0' : entry.type === 'symlink' ? '2' : '5', 156);
  if (entry.type === 'symlink') block.write(entry.target, 157, 100, 'utf8');
  block.write('ustar\0', 257);
  block.write('00', 263);
  block.write('root', 265);
  block.write('root', 297);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return block;
}

/** `value` as `digits` octal digits and a NUL, as tar headers store numbers. */
function octal(value: number, digits: number): string {
  return `${value.toString(8).padStart(digits, '0')}\0`;
}
