import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import { fieldNamesOf, foldFieldNames, TXN_OP } from './field-names.ts';

describe('Consul field names', () => {
  it('renames keys to the fields they match without regard to case, through nested structs and lists', () => {
    const body = [{ kv: { verb: 'set', KEY: 'a', value: 'dg==' } }, { check: { verb: 'set', check: { node: 'n', checkid: 'c', definition: { http: 'http://x', header: { 'x-token': ['t'] } } } } }];
    assert.deepEqual(foldFieldNames(body, TXN_OP), [
      { KV: { Verb: 'set', Key: 'a', Value: 'dg==' } },
      { Check: { Verb: 'set', Check: { Node: 'n', CheckID: 'c', Definition: { HTTP: 'http://x', Header: { 'x-token': ['t'] } } } } },
    ]);
  });

  it('leaves the keys of maps and of unknown fields as they were sent', () => {
    const names = { Name: null, Meta: null };
    assert.deepEqual(foldFieldNames({ name: 'web', meta: { name: 'kept', Version: '1' }, colour: 'red' }, names), { Name: 'web', Meta: { name: 'kept', Version: '1' }, colour: 'red' });
  });

  it('lets the later of two keys for one field win, as Go does', () => {
    assert.deepEqual(foldFieldNames({ TTL: '10s', ttl: '20s' }, { TTL: null }), { TTL: '20s' });
  });

  it('takes the field names from a TypeBox schema', () => {
    const schema = Type.Object({ Name: Type.Optional(Type.String()), ServiceChecks: Type.Array(Type.Object({ ID: Type.String() })), LockDelay: Type.Union([Type.String(), Type.Number()]), Meta: Type.Record(Type.String(), Type.String()) });
    assert.deepEqual(fieldNamesOf(schema), { Name: null, ServiceChecks: { ID: null }, LockDelay: null, Meta: null });
  });
});
