/**
 * A DNS worker process (see cluster.ts): serves DNS from the zone the primary sends it, and
 * exits with the primary.
 */
import { createLogger } from '../../lib/index.ts';
import type { FromWorker, ToWorker } from './cluster.ts';
import { DnsServer } from './server.ts';
import type { DnsZoneData } from './zone.ts';

let zone: DnsZoneData | undefined;
let server: DnsServer | undefined;
const send = (m: FromWorker): void => void process.send?.(m);

process.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'start':
      zone = m.zone;
      DnsServer.start({ ...m.options, zone: () => zone!, logger: createLogger({ level: 'warn' }) })
        .then((s) => {
          server = s;
          send({ type: 'ready', port: s.port });
        })
        .catch((err: Error) => send({ type: 'error', message: err.message }));
      break;
    case 'zone':
      zone = m.zone;
      break;
    case 'stats':
      if (server) send({ type: 'stats', stats: server.stats });
      break;
  }
});
send({ type: 'hello' });
// The primary went away: so does this worker.
process.on('disconnect', () => process.exit(0));
