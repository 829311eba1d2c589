import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseJobSpec } from './parse.ts';
import { validateJob } from './validate.ts';

function assertResult(result: unknown): void {
  assert.ok(typeof result === 'object' && result !== null && 'ok' in result);
}

describe('hostile input', () => {
  test('values of every kind at the top level give a problem, not a crash', () => {
    for (const input of [null, undefined, 0, -1, 'web', true, [], [{}], new Date(0), () => 1]) {
      const result = validateJob(input);
      assert.equal(result.ok, false);
    }
  });

  test('lists where maps are expected, and maps where lists are expected, are problems', () => {
    const result = validateJob({ id: 'web', groups: [[], 'x', null, { name: 'g', tasks: {}, ports: {}, restart: [] }] });
    assert.ok(!result.ok);
    assert.deepEqual(
      result.errors.map((e) => `${e.path}: ${e.message}`),
      [
        'groups[0]: must be a map, got a list',
        'groups[1]: must be a map, got "x"',
        'groups[2]: must be a map, got null',
        'groups[3].ports: must be a list of ports, got a map',
        'groups[3].restart: must be a map, got a list',
        'groups[3].tasks: must be a list of tasks, got a map',
      ],
    );
  });

  test('huge and odd numbers are problems', () => {
    const result = validateJob({
      id: 'web',
      priority: 1e308,
      groups: [{ name: 'g', count: 1e21, tasks: [{ name: 't', config: { image: 'x' }, resources: { cpu: Infinity, memory: Number('9e999') } }] }],
    });
    assert.ok(!result.ok);
    assert.equal(result.errors.length, 4);
    const yaml = parseJobSpec('id: web\ngroups: [{name: g, count: .nan, tasks: [{name: t, config: {image: x}}]}]\n');
    assert.ok(!yaml.ok);
    assert.deepEqual(yaml.errors, [{ path: 'groups[0].count', message: 'must be an integer, got NaN' }]);
  });

  test('__proto__ keys stay plain data', () => {
    const result = parseJobSpec(
      '{"id":"web","meta":{"__proto__":"x"},"groups":[{"name":"g","tasks":[{"name":"t","config":{"image":"x"},"env":{"__proto__":"y"}}]}]}',
    );
    assert.ok(result.ok);
    assert.equal(Object.getPrototypeOf(result.job.meta), Object.prototype);
    assert.equal(Object.hasOwn(result.job.meta, '__proto__'), true);
    assert.equal(result.job.groups[0].tasks[0].env.__proto__, 'y');
  });

  test('deep nesting is a problem, not a stack overflow', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    assertResult(parseJobSpec(`{"id": ${deep}}`, { format: 'json' }));
    assertResult(parseJobSpec(`id: ${deep}\n`));
    let nested: unknown = 'x';
    for (let i = 0; i < 10_000; i++) nested = { a: nested };
    assert.equal(validateJob({ id: 'web', meta: nested, groups: nested }).ok, false);
  });

  test('an alias bomb is refused', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    const result = parseJobSpec(`${lines.join('\n')}\nid: web\n`);
    assert.ok(!result.ok);
    assert.match(result.errors[0].message, /^cannot read the spec: /);
  });

  test('thousands of unknown keys give a bounded list of problems', () => {
    const input: Record<string, unknown> = { id: 'web', groups: [] };
    for (let i = 0; i < 5_000; i++) input[`k${i}`] = i;
    const result = validateJob(input);
    assert.ok(!result.ok);
    assert.equal(result.errors.length, 101);
    assert.match(result.errors[100].message, /more problems not shown/);
  });

  test('arbitrary JSON values never throw', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        assertResult(validateJob(value));
        assertResult(validateJob({ id: 'web', groups: [value] }));
        assertResult(validateJob({ id: 'web', groups: [{ name: 'g', tasks: [value] }] }));
      }),
      { numRuns: 300 },
    );
  });

  test('arbitrary text never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        assertResult(parseJobSpec(text));
        assertResult(parseJobSpec(text, { format: 'json' }));
      }),
      { numRuns: 300 },
    );
  });

  test('specs with a field replaced by an arbitrary value never throw', () => {
    const fields = ['count', 'ports', 'restart', 'name', 'tasks'];
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.anything(), (field, value) => {
        const group: Record<string, unknown> = { name: 'g', tasks: [{ name: 't', config: { image: 'x' } }] };
        group[field] = value;
        assertResult(validateJob({ id: 'web', groups: [group] }));
      }),
      { numRuns: 300 },
    );
  });
  test('cyclic YAML (an anchor inside its own alias) is a problem, not a hang', () => {
    for (const text of ['&a [*a]', 'id: web\nmeta: &m {a: *m}', 'id: web\ngroups: &g [{name: g, tasks: *g}]']) {
      const result = parseJobSpec(text, { source: 'x.yaml' });
      assert.equal(result.ok, false, text);
    }
  });
});
