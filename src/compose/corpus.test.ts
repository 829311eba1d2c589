/**
 * Every Compose file of the awesome-compose corpus (test/fixtures/awesome-compose, real files from
 * docker/awesome-compose) is read and mapped: no crash, no problem, and every warning names the
 * key it is about. `compose plan` over the same files against a server is in test/e2e/compose.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadProject } from './load.ts';
import { mapProject } from './map.ts';

const root = path.resolve(import.meta.dirname, '../../test/fixtures/awesome-compose');
const read = (f: string): string | undefined => (fs.existsSync(f) && fs.statSync(f).isFile() ? fs.readFileSync(f, 'utf8') : undefined);
const projects = fs.readdirSync(root).filter((d) => fs.statSync(path.join(root, d)).isDirectory()).sort();

describe('the awesome-compose corpus', () => {
  it('has the sample apps', () => {
    assert.ok(projects.length >= 35, `only ${projects.length} projects under ${root}`);
  });

  for (const dir of projects) {
    it(`reads and maps ${dir} with only named warnings`, () => {
      const loaded = loadProject({ cwd: path.join(root, dir), read, environment: {} });
      assert.ok(loaded.ok, loaded.ok ? '' : JSON.stringify(loaded.problems, null, 2));
      const mapped = mapProject(loaded.project, { read });
      assert.deepEqual(mapped.problems, []);
      assert.equal(mapped.jobs.length, Object.keys(loaded.project.services).length);
      for (const w of loaded.warnings) assert.ok(['version', 'include'].includes(w.path), `top-level warning about ${w.path}`);
      for (const w of mapped.warnings) {
        const [, network, nkey] = /^networks(?:\.([^.]+)\.([a-z_]+))?$/.exec(w.path) ?? [];
        if (w.path.startsWith('networks')) {
          assert.ok(Object.keys(loaded.project.networks).length > 0 || Object.values(loaded.project.services).some((s) => s.networks !== undefined), `a networks warning without networks: ${w.message}`);
          if (network) assert.ok((loaded.project.networks[network] as Record<string, unknown>)[nkey] !== undefined, `warning not naming a key the file has: ${w.path}`);
          continue;
        }
        const [, volume, vkey] = /^volumes\.([^.]+)\.([a-z_]+)$/.exec(w.path) ?? [];
        if (volume) {
          assert.ok((loaded.project.volumes[volume] as Record<string, unknown>)[vkey] !== undefined, `warning not naming a key the file has: ${w.path}`);
          continue;
        }
        const [, service, key] = /^services\.([^.]+)\.([a-z_]+)/.exec(w.path) ?? [];
        assert.ok(service && key && (loaded.project.services[service] as Record<string, unknown>)[key] !== undefined, `warning not naming a key the file has: ${w.path}: ${w.message}`);
        assert.ok(w.message.length > 10);
      }
    });
  }
});
