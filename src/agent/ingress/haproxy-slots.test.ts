import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Endpoint } from '../../proxy/index.ts';
import { haproxyConfig } from './haproxy-config.ts';
import { assignSlots } from './haproxy-slots.ts';
import type { IngressPlan } from './ingress-plan.ts';

const e = (id: string, port: number): Endpoint => ({ id, host: '10.0.0.2', port });
const plan = (web: Endpoint[]): IngressPlan => ({
  http: [
    { service: 'web', host: 'web.example', pathPrefix: '/api' },
    { service: 'web', pathPrefix: '/' },
  ],
  tcp: [{ port: 9000, service: 'web' }],
  endpoints: new Map([['web', web]]),
});

describe('HAProxy slots', () => {
  test('a new backend needs a reload; instances then move through the runtime API', () => {
    const first = assignSlots(new Map(), plan([e('a', 1), e('b', 2)]));
    assert.equal(first.reload, true);
    assert.deepEqual(first.slots.get('http_web')?.slice(0, 3), [e('a', 1), e('b', 2), undefined]);
    assert.equal(first.slots.get('http_web')?.length, 8);
    const next = assignSlots(first.slots, plan([e('b', 2), e('c', 3)]));
    assert.equal(next.reload, false);
    assert.deepEqual(next.commands.filter((c) => c.includes('http_web')), [
      'set server http_web/s1 state maint',
      'shutdown sessions server http_web/s1',
      'set server http_web/s1 addr 10.0.0.2 port 3',
      'set server http_web/s1 state ready',
    ]);
    assert.deepEqual(next.slots.get('http_web')?.[1], e('b', 2), 'an instance that stays keeps its slot');
  });

  test('more new instances than parked slots need a reload with more slots', () => {
    const first = assignSlots(new Map(), plan([e('a', 1)]));
    const many = Array.from({ length: 10 }, (_, i) => e(`x${i}`, 100 + i));
    const next = assignSlots(first.slots, plan(many));
    assert.equal(next.reload, true);
    assert.equal(next.slots.get('http_web')?.length, 32);
  });

  test('the configuration is one haproxy accepts', async (t) => {
    const haproxy = await promisify(execFile)('haproxy', ['-v']).catch(() => undefined);
    if (!haproxy) {
      if (process.env.CI === 'true') assert.fail('haproxy is not installed');
      return t.skip('haproxy is not installed');
    }
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-haproxy-'));
    t.after(() => fs.rm(dir, { recursive: true, force: true }));
    const { slots } = assignSlots(new Map(), plan([e('a', 1)]));
    const text = haproxyConfig({ addresses: [{ host: '127.0.0.1', port: 18080 }], plan: plan([e('a', 1)]), slots, adminSocket: path.join(dir, 'admin.sock') });
    assert.match(text, /acl r0_path path -m beg \/api\//);
    assert.match(text, /string "503 Service Unavailable: no healthy instance of service \\"web\\"\\n" if \{ nbsrv eq 0 \} !\{ stopping \}/);
    await fs.writeFile(path.join(dir, 'h.cfg'), text);
    await promisify(execFile)('haproxy', ['-c', '-q', '-f', path.join(dir, 'h.cfg')]);
  });
});
