import type { LogChunk } from '../driver.ts';

/**
 * Splits Docker's multiplexed log stream (the format of containers without a TTY) into chunks.
 * Each frame is an 8-byte header (stream type, 3 zero bytes, big-endian length) then the data;
 * frames may be split across or packed into the chunks the source delivers.
 */
export async function* demuxDockerLogs(source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>): AsyncGenerator<LogChunk> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const piece of source) {
    const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 8) {
      const size = pending.readUInt32BE(4);
      if (pending.length < 8 + size) break;
      const type = pending[0];
      // Copied so that a small chunk does not keep a large read buffer alive.
      const data = Buffer.from(pending.subarray(8, 8 + size));
      pending = pending.subarray(8 + size);
      if (size > 0) yield { stream: type === 2 ? 'stderr' : 'stdout', data };
    }
  }
}
