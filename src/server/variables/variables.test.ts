import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat, writeFile, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MemoryBackend, StateStore, StateView } from '../../state/index.ts';
import { silentLogger, systemClock } from '../../lib/index.ts';
import { Keyring } from './keyring.ts';
import { VariableService } from './variable-service.ts';
import { RekeyLoop } from './rekey-loop.ts';
import { loadKek, newKey, seal, unseal } from './crypto.ts';

async function open(kek = newKey(), backend = new MemoryBackend()) {
  const view = await StateView.open(backend);
  const store = new StateStore(backend, view);
  const keyring = new Keyring({ view, store, clock: systemClock, logger: silentLogger(), kek });
  await keyring.open();
  const variables = new VariableService({ view, store, clock: systemClock, keyring });
  return { view, store, keyring, variables, backend };
}

test('sealing round-trips, and a wrong key, a wrong path or an altered byte is refused', () => {
  const key = newKey();
  const sealed = seal(key, Buffer.from('hunter2'), 'berth-variable:a/b');
  assert.equal(unseal(key, sealed, 'berth-variable:a/b').toString(), 'hunter2');
  assert.throws(() => unseal(newKey(), sealed, 'berth-variable:a/b'));
  assert.throws(() => unseal(key, sealed, 'berth-variable:a/c'), 'a ciphertext moved to another path must not decrypt');
  const body = Buffer.from(sealed.ciphertext, 'base64');
  body[0] ^= 1;
  assert.throws(() => unseal(key, { ...sealed, ciphertext: body.toString('base64') }, 'berth-variable:a/b'));
});

test('the state holds ciphertext and wrapped keys only; a row copied to another path does not decrypt', async () => {
  const { view, store, variables } = await open();
  await variables.put('app/db', { password: 'hunter2-plaintext' });
  const raw = JSON.stringify({ vars: view.variables(), keys: view.keyringKeys() });
  assert.ok(!raw.includes('hunter2-plaintext'));
  assert.deepEqual(variables.get('app/db').items, { password: 'hunter2-plaintext' });
  const row = view.variable('app/db')!;
  assert.equal((await store.commit([{ table: 'variables', id: 'app/other', value: { ...row, path: 'app/other' } }])).ok, true);
  assert.throws(() => variables.get('app/other'), /does not authenticate/);
});

test('a server with another key-encryption key cannot read variables, and says how to fix it (503)', async () => {
  const first = await open();
  await first.variables.put('a', { k: 'v' });
  const other = await open(newKey(), first.backend);
  assert.throws(() => other.variables.get('a'), (e: Error & { code?: string }) => e.code === 'unavailable' && /another key-encryption key.*--keyring-kek/.test(e.message));
  await assert.rejects(other.variables.put('b', { k: 'v' }), /another key-encryption key/);
  assert.equal(other.view.variable('b'), undefined);
});

test('CAS: a write or delete at a stale modify index is a 409 naming the current one; cas=0 creates only', async () => {
  const { variables } = await open();
  const v1 = await variables.put('app/x', { a: '1' }, 0);
  await assert.rejects(variables.put('app/x', { a: '2' }, 0), (e: Error & { code?: string }) => e.code === 'conflict' && e.message.includes(`current modify index is ${v1.modifyIndex}`));
  const v2 = await variables.put('app/x', { a: '2' }, v1.modifyIndex);
  assert.ok(v2.modifyIndex > v1.modifyIndex);
  assert.equal(v2.createIndex, v1.modifyIndex);
  await assert.rejects(variables.delete('app/x', v1.modifyIndex), /current modify index is/);
  assert.deepEqual(variables.get('app/x').items, { a: '2' });
  await variables.delete('app/x', v2.modifyIndex);
  assert.throws(() => variables.get('app/x'), /Cannot find variable/);
});

test('bad paths and items are refused with the path and the fix, and change nothing', async () => {
  const { view, variables } = await open();
  for (const [p, why] of [
    ['/lead', /starts or ends with "\/"/],
    ['a//b', /empty segment/],
    ['a/../b', /".." segment/],
    ['a b', /character other than/],
    ['x'.repeat(129), /at most 128/],
  ] as const) {
    await assert.rejects(variables.put(p, { k: 'v' }), (e: Error & { code?: string }) => e.code === 'invalid_input' && why.test(e.message), p);
  }
  await assert.rejects(variables.put('a', {}), /at least one item/);
  await assert.rejects(variables.put('a', { k: 1 }), /items\.k: must be a string/);
  await assert.rejects(variables.put('a', { big: 'x'.repeat(70_000) }), /at most 65536/);
  assert.equal(view.variables().length, 0);
});

test('rotation: new writes use the new key, old rows still decrypt until the rekey loop moves them, then the old key is inactive', async () => {
  const { view, store, keyring, variables } = await open();
  for (let i = 0; i < 25; i++) await variables.put(`app/v${i}`, { n: String(i) });
  const old = keyring.active().id;
  const fresh = await keyring.rotate();
  assert.notEqual(fresh.id, old);
  await variables.put('app/new', { n: 'new' });
  assert.equal(view.variable('app/new')!.keyId, fresh.id);
  assert.equal(view.variable('app/v3')!.keyId, old, 'not re-encrypted yet');
  assert.deepEqual(variables.get('app/v3').items, { n: '3' }, 'an old row still decrypts meanwhile');
  assert.deepEqual(
    keyring.list().map((k) => [k.state, k.variables]),
    [
      ['active', 1],
      ['rotated', 25],
    ],
  );
  const loop = new RekeyLoop({ view, store, keyring, variables, logger: silentLogger() }, { batch: 10 });
  loop.start();
  const deadline = Date.now() + 5000;
  while (keyring.list().find((k) => k.id === old)!.state !== 'inactive') {
    assert.ok(Date.now() < deadline, 'the rekey loop did not finish');
    await new Promise((r) => setTimeout(r, 20));
  }
  await loop.stop();
  assert.ok(view.variables().every((v) => v.keyId === fresh.id));
  assert.deepEqual(variables.get('app/v24').items, { n: '24' });
  assert.deepEqual(
    keyring.list().map((k) => [k.state, k.variables]),
    [
      ['active', 26],
      ['inactive', 0],
    ],
  );
});

test('the KEK file is made with mode 600, reused, and refused when others may read it or it is not a key', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-kek-'));
  const file = path.join(dir, 'keyring.kek');
  const made = await loadKek(file, true);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.deepEqual(await loadKek(file, true), made);
  assert.equal((await readFile(file, 'utf8')).trim(), made.toString('base64'));
  await chmod(file, 0o644);
  await assert.rejects(loadKek(file, true), /chmod 600/);
  await writeFile(file, 'not a key\n', { mode: 0o600 });
  await chmod(file, 0o600);
  await assert.rejects(loadKek(file, true), /expected 32 bytes/);
  await assert.rejects(loadKek(path.join(dir, 'missing.kek'), false), /--keyring-kek/);
});
