import fs from 'node:fs';
import path from 'node:path';
import { loadProject, mapProject } from './src/compose/index.ts';
const read = (f: string) => { try { return fs.readFileSync(f, 'utf8'); } catch { return undefined; } };
const root = 'test/fixtures/awesome-compose';
for (const d of fs.readdirSync(root)) {
  const dir = path.join(root, d);
  if (!fs.statSync(dir).isDirectory()) continue;
  const r = loadProject({ cwd: dir, read, environment: {} });
  if (!r.ok) { console.log(d, 'LOAD', r.problems); continue; }
  const m = mapProject(r.project, { read });
  if (m.problems.length) console.log(d, 'MAP', m.problems);
  else console.log(d, m.jobs.length, 'jobs', m.warnings.length, 'warnings', [...new Set(m.warnings.map(w => w.path.split('.').slice(2).join('.')))].join(' '));
}
