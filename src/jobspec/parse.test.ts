import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatErrors } from './format.ts';
import { parseJobSpec } from './parse.ts';
import type { ParseResult } from './validate.ts';

const WEB_YAML = `# the example of the docs
id: web
type: service
priority: 50
datacenters: [dc1]
meta: {team: x}
groups:
  - name: web
    count: 3
    ports:
      - label: http
        to: 8080
    restart: {attempts: 2, interval: 30m, delay: 15s, mode: fail}
    tasks:
      - name: httpd
        driver: docker
        config: {image: busybox, command: httpd, args: ["-f", "-p", "\${BERTH_PORT_http}"], workdir: /x}
        env: {KEY: value}
        resources: {cpu: 500m, memory: 256Mi}
        kill_timeout: 5s
`;

function messages(result: ParseResult): string[] {
  assert.ok(!result.ok, 'expected problems');
  return result.errors.map((e) => (e.path === '' ? e.message : `${e.path}: ${e.message}`));
}

describe('parseJobSpec', () => {
  test('parses the documented YAML example', () => {
    const result = parseJobSpec(WEB_YAML, { source: 'web.yaml' });
    assert.ok(result.ok);
    assert.equal(result.job.groups[0].count, 3);
    assert.deepEqual(result.job.groups[0].tasks[0].resources, { cpu: 0.5, memoryMiB: 256 });
    assert.deepEqual(result.job.groups[0].tasks[0].config.args, ['-f', '-p', '${BERTH_PORT_http}']);
  });

  test('parses JSON of the same shape to the same job', () => {
    const yaml = parseJobSpec(WEB_YAML);
    assert.ok(yaml.ok);
    const json = JSON.stringify({
      id: 'web',
      meta: { team: 'x' },
      groups: [
        {
          name: 'web',
          count: 3,
          ports: [{ label: 'http', to: 8080 }],
          restart: { attempts: 2, interval: '30m', delay: '15s', mode: 'fail' },
          tasks: [
            {
              name: 'httpd',
              driver: 'docker',
              config: { image: 'busybox', command: 'httpd', args: ['-f', '-p', '${BERTH_PORT_http}'], workdir: '/x' },
              env: { KEY: 'value' },
              resources: { cpu: '500m', memory: '256Mi' },
              kill_timeout: '5s',
            },
          ],
        },
      ],
    });
    for (const options of [{}, { format: 'json' as const }, { source: 'web.json' }]) {
      assert.deepEqual(parseJobSpec(json, options), yaml);
    }
  });

  test('reads a YAML flow map that starts with a brace', () => {
    const result = parseJobSpec('{id: web, groups: [{name: web, tasks: [{name: t, config: {image: x}}]}]}');
    assert.ok(result.ok);
  });

  test('gives line and column of YAML syntax errors', () => {
    const [message] = messages(parseJobSpec('id: web\ngroups: [\n  name: x\nfoo: 1\n'));
    assert.match(message, /^invalid YAML at line \d+, column \d+: /);
    assert.deepEqual(messages(parseJobSpec('id: web\nid: api\n')), ['invalid YAML at line 2, column 1: Map keys must be unique']);
  });

  test('gives line and column of JSON syntax errors', () => {
    const [message] = messages(parseJobSpec('{\n  "id": "web",\n  "groups": [}\n', { format: 'json' }));
    assert.match(message, /^invalid JSON at line 3, column 14: /);
  });

  test('refuses several YAML documents, unknown tags and an empty text', () => {
    assert.deepEqual(messages(parseJobSpec('id: a\n---\nid: b\n')), [
      'invalid YAML at line 2, column 1: a spec holds one job, but this text has more than one YAML document',
    ]);
    assert.match(messages(parseJobSpec('id: !secret web\n'))[0], /^invalid YAML at line 1, column 5: Unresolved tag: !secret/);
    assert.deepEqual(messages(parseJobSpec('  \n')), ['the spec is empty']);
    assert.deepEqual(messages(parseJobSpec('# only a comment\n')), ['must be a map, got null']);
  });

  test('reports validation problems of YAML with their paths', () => {
    const result = parseJobSpec(WEB_YAML.replace('count: 3', 'cont: 3').replace('memory: 256Mi', 'memory: -5'));
    assert.ok(!result.ok);
    assert.equal(
      formatErrors(result.errors, 'web.yaml'),
      [
        'web.yaml: groups[0].cont: unknown field; did you mean "count"?',
        'web.yaml: groups[0].tasks[0].resources.memory: must be a positive number of MiB, got -5',
      ].join('\n'),
    );
  });

  test('keeps YAML 1.2 meanings: yes and on are strings, not booleans', () => {
    const result = parseJobSpec(WEB_YAML.replace('KEY: value', 'KEY: yes'));
    assert.ok(result.ok);
    assert.equal(result.job.groups[0].tasks[0].env.KEY, 'yes');
  });
});

describe('formatErrors', () => {
  test('prints one line per problem with source and path', () => {
    const errors = [
      { path: 'groups[0].count', message: 'must be an integer, got "x"' },
      { path: '', message: 'the spec is empty' },
    ];
    assert.equal(formatErrors(errors, 'web.yaml'), 'web.yaml: groups[0].count: must be an integer, got "x"\nweb.yaml: the spec is empty');
    assert.equal(formatErrors(errors), 'groups[0].count: must be an integer, got "x"\nthe spec is empty');
  });
});
