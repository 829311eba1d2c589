import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type BerthError } from '../model/index.ts';
import { compileAuthorizer, parsePolicy } from './index.ts';

function authorizer(...sources: string[]) {
  return compileAuthorizer(sources.flatMap((s) => parsePolicy(s).rules));
}

test('a policy grants what it names and implies, nothing else', () => {
  const a = authorizer('description: web team\njobs:\n  "web*": [write]\n  "*": [read]\nkv:\n  app/: [read]\nnodes: read\n');
  assert.equal(a.allows('jobs', 'webapp', 'write'), true);
  assert.equal(a.allows('jobs', 'webapp', 'alloc-exec'), true, 'jobs write implies alloc-exec as in Nomad');
  assert.equal(a.allows('jobs', 'db', 'read'), true);
  assert.equal(a.allows('jobs', 'db', 'write'), false);
  assert.equal(a.allows('kv', 'app/db/url', 'read'), true);
  assert.equal(a.allows('kv', 'app/db/url', 'list'), true, 'kv read implies list');
  assert.equal(a.allows('kv', 'app/db/url', 'write'), false);
  assert.equal(a.allows('kv', 'other', 'read'), false);
  assert.equal(a.allows('nodes', 'n1', 'read'), true);
  assert.equal(a.allows('nodes', 'n1', 'write'), false);
  assert.equal(a.allows('operator', '', 'read'), false, 'a scope the policy does not name is denied');
  assert.equal(a.management, false);
});

test('the most specific pattern decides, and deny on it takes everything', () => {
  const a = authorizer('jobs:\n  "*": [write]\n  "secret*": [deny]\n  secret-public: [read]\nkv:\n  "": [write]\n  app/private/: [deny]\n');
  assert.equal(a.allows('jobs', 'web', 'write'), true);
  assert.equal(a.allows('jobs', 'secret-db', 'read'), false);
  assert.equal(a.allows('jobs', 'secret-public', 'read'), true, 'an exact name beats a prefix');
  assert.equal(a.allows('jobs', 'secret-public', 'write'), false);
  assert.equal(a.allows('kv', 'app/x', 'write'), true);
  assert.equal(a.allows('kv', 'app/private/key', 'read'), false, 'a longer prefix beats a shorter one');
});

test('capabilities of several policies on one pattern add up; a deny among them wins', () => {
  const a = authorizer('jobs:\n  web: [read]\n', 'jobs:\n  web: [scale]\n');
  assert.equal(a.allows('jobs', 'web', 'read'), true);
  assert.equal(a.allows('jobs', 'web', 'scale'), true);
  assert.equal(a.allows('jobs', 'web', 'write'), false);
  const b = authorizer('jobs:\n  web: [write]\n', 'jobs:\n  web: [deny]\n');
  assert.equal(b.allows('jobs', 'web', 'read'), false);
  assert.equal(b.allowsAny('jobs', 'read'), false);
});

test('JSON documents are accepted as well as YAML', () => {
  const a = authorizer('{"jobs": {"*": ["read"]}, "events": ["read"]}');
  assert.equal(a.allows('jobs', 'x', 'read'), true);
  assert.equal(a.allows('events', '', 'read'), true);
});

test('a bad policy is refused with every problem and its path', () => {
  const err = (source: string): BerthError => {
    try {
      parsePolicy(source);
    } catch (e) {
      return e as BerthError;
    }
    assert.fail(`accepted ${source}`);
  };
  const e = err('jobs:\n  web: [writ, read]\nnode: read\nagent:\n  x: [read]\n');
  assert.equal(e.code, 'invalid_input');
  assert.deepEqual(
    e.details.map((d) => d.path),
    ['jobs."web"[0]', 'node', 'agent."x"'],
  );
  assert.match(e.details[0].message, /unknown capability "writ"; one of read, write/);
  assert.match(e.details[1].message, /unknown scope; one of jobs, nodes/);
  assert.match(err('[1, 2').message, /not YAML or JSON/);
  assert.match(err('description: nothing\n').message, /grants nothing/);
  assert.match(err('jobs:\n  "w*b": [read]\n').details[0].message, /a pattern is a name, a prefix ending in "\*", or "\*"/);
  assert.match(err('jobs: []\n').details[0].message, /must list capabilities/);
});
