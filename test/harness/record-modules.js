// `node --import ./test/harness/record-modules.js ...`: when the process exits, write every
// module it loaded to the file BERTH_MODULE_LIST names, as JSON: `esm` (each URL with the module
// that imported it, from a resolve hook) and `cjs` (the CommonJS cache, which packages such as
// etcd3 and better-sqlite3 fill through require()). Tests read it to see what a process loaded.
import { writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const out = process.env.BERTH_MODULE_LIST;
if (out) {
  const esm = [];
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (m) => esm.push(m));
  // The recording must not keep the process alive.
  port1.unref();
  register('./module-hooks.js', { parentURL: import.meta.url, data: { port: port2 }, transferList: [port2] });
  const require = createRequire(import.meta.url);
  process.on('exit', () => writeFileSync(out, JSON.stringify({ esm, cjs: Object.keys(require.cache) })));
}
