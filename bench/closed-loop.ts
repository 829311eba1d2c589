/**
 * The load loop the KV benchmarks share: `clients` loops, each awaiting one operation after
 * another for `seconds`; client c runs operations c, c + clients, c + 2 * clients, ...
 */

/** Run `op(client, i)` in closed loops; returns operations per second. */
export async function closedLoop(options: { clients: number; seconds: number }, op: (client: number, i: number) => Promise<void>): Promise<number> {
  const end = Date.now() + options.seconds * 1000;
  let done = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: options.clients }, async (_, c) => {
      for (let i = c; Date.now() < end; i += options.clients) {
        await op(c, i);
        done++;
      }
    }),
  );
  return Math.round(done / ((Date.now() - started) / 1000));
}
