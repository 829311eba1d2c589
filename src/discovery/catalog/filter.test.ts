import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BerthError } from '../../model/index.ts';
import { compileFilter } from './filter.ts';

const entry = { Node: { Node: 'n1', Meta: {} }, Service: { Service: 'web', Tags: ['v1', 'primary'], Meta: { version: '2' }, Port: 8080 }, Checks: [{ Status: 'passing' }, { Status: 'critical' }] };

describe('filter expressions', () => {
  const cases: [string, boolean][] = [
    ['Service.Service == "web"', true],
    ['Service.Service != "web"', false],
    ['Service.Port == 8080', true],
    ['Service.Tags contains "v1"', true],
    ['Service.Tags not contains "v1"', false],
    ['"primary" in Service.Tags', true],
    ['"canary" not in Service.Tags', true],
    ['Service.Meta.version == "2" and Node.Node == n1', true],
    ['Service.Meta contains "version"', true],
    ['Service.Service matches "^w.b$"', true],
    ['Node.Meta is empty', true],
    ['Service.Tags is not empty', true],
    ['Checks.Status == critical', true],
    ['not (Service.Service == "db" or Service.Port == 1)', true],
    ['Service.Service == "db" or (Service.Tags contains "v1" and Service.Port == 8080)', true],
    ['Service.Missing == "x"', false],
  ];
  for (const [expr, want] of cases) it(`${expr} is ${want}`, () => assert.equal(compileFilter(expr)(entry), want));

  it('rejects malformed expressions with invalid_input', () => {
    for (const bad of ['Service.Service ==', 'Service.Service ~ x', '(Service.Port == 1', 'and', '"x" Service.Tags']) {
      assert.throws(() => compileFilter(bad), (err: unknown) => err instanceof BerthError && err.code === 'invalid_input', bad);
    }
  });
});
