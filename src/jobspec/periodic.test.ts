import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJobSpec } from './parse.ts';

const GROUPS = 'groups: [{name: g, tasks: [{name: t, driver: process, config: {command: /bin/true}}]}]';
const spec = (type: string, after: string): ReturnType<typeof parseJobSpec> => parseJobSpec(`id: web\ntype: ${type}\n${GROUPS}\nafter: ${after}`);
const errors = (p: ReturnType<typeof parseJobSpec>): string => (p.ok ? '' : p.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));

test('after with conditions on a service job waits for the jobs named, short entries meaning started', () => {
  const p = spec('service', '[{job: db, condition: healthy, restart: true}, cache]');
  assert.ok(p.ok, errors(p));
  assert.deepEqual(p.job.dependsOn, [
    { job: 'db', condition: 'healthy', restart: true },
    { job: 'cache', condition: 'started', restart: false },
  ]);
  assert.equal(p.job.after, undefined);
});

test('the short form on a batch job stays a chain; a long entry makes it wait instead, short ones meaning completed', () => {
  const chain = spec('batch', '[extract, load]');
  assert.ok(chain.ok);
  assert.deepEqual(chain.job.after, ['extract', 'load']);
  assert.equal(chain.job.dependsOn, undefined);
  const gated = spec('batch', '[{job: migrate}, db]');
  assert.ok(gated.ok, errors(gated));
  assert.deepEqual(gated.job.dependsOn, [
    { job: 'migrate', condition: 'completed', restart: false },
    { job: 'db', condition: 'completed', restart: false },
  ]);
});

test('an unknown condition, a self-dependency, a duplicate and a bad entry are refused with their paths', () => {
  const bad = spec('service', '[{job: db, condition: ready}, {job: web}, {job: cache}, cache, {condition: started}, 7]');
  const text = errors(bad);
  assert.match(text, /after\[0\]\.condition: must be one of started, healthy, completed, got "ready"/);
  assert.match(text, /after\[1\]\.job: a job cannot wait for itself \(cycle: web -> web\); remove this entry/);
  assert.match(text, /after\[3\]: duplicate dependency "cache"; give each job once/);
  assert.match(text, /after\[4\]\.job: required/);
  assert.match(text, /after\[5\]: must be a map/);
  assert.match(errors(spec('service', '[{job: db, when: healthy}]')), /after\[0\]\.when: unknown field/);
});

test('a periodic job takes only the short form of after', () => {
  const p = parseJobSpec(`id: nightly\ntype: batch\nperiodic: {cron: "0 3 * * *"}\n${GROUPS}\nafter: [{job: db, condition: healthy}]`);
  assert.match(errors(p), /after: a periodic or parameterized job takes after as a list of job ids only/);
});
