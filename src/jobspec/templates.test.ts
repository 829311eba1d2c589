import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateJob } from './validate.ts';

const spec = (templates: unknown): unknown => ({
  id: 'web',
  groups: [{ name: 'g', tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' }, templates }] }],
});

describe('task templates', () => {
  test('reads data, destination, env, change_mode, change_signal and splay', () => {
    const result = validateJob(
      spec([
        { data: 'port={{key "cfg/port"}}', destination: 'local/app.conf', change_mode: 'signal', change_signal: 'SIGHUP', splay: '5s' },
        { data: 'A={{key "a"}}', env: true },
      ]),
    );
    assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.errors));
    assert.deepEqual(result.job.groups[0].tasks[0].templates, [
      { data: 'port={{key "cfg/port"}}', destination: 'local/app.conf', changeMode: 'signal', changeSignal: 'SIGHUP', splayMs: 5000 },
      { data: 'A={{key "a"}}', env: true, changeMode: 'restart' },
    ]);
  });

  test('refuses a template without data or a place to go, a path out of the task directory, and signal without a signal', () => {
    const result = validateJob(spec([{ destination: 'x' }, { data: 'x' }, { data: 'x', destination: '../etc/passwd' }, { data: 'x', env: true, change_mode: 'signal' }]));
    assert.ok(!result.ok);
    const paths = result.errors.map((e) => e.path);
    assert.deepEqual(paths, ['groups[0].tasks[0].templates[0].data', 'groups[0].tasks[0].templates[1].destination', 'groups[0].tasks[0].templates[2].destination', 'groups[0].tasks[0].templates[3].change_signal']);
  });
});
