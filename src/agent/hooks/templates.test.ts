import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MemoryBackend } from '../../state/index.ts';
import { Server } from '../../server/index.ts';
import { silentLogger } from '../../lib/index.ts';
import { TemplateSet, type TemplateSpec } from './templates.ts';

describe('templates', () => {
  it('renders a file and env from keys, and renders again with a change callback when a key changes', async (t) => {
    const server = await Server.start({ backend: new MemoryBackend(), logger: silentLogger(), port: 0 });
    t.after(() => server.stop());
    const put = (k: string, v: string): Promise<Response> => fetch(`${server.url}/v1/kv/${k}`, { method: 'PUT', body: v });
    await put('cfg/app/port', '8080');
    await put('cfg/app/mode', 'fast');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-tpl-'));
    const changes: TemplateSpec[] = [];
    const specs: TemplateSpec[] = [
      { data: 'port={{key "cfg/app/port"}}\n{{#each (tree "cfg/app/")}}{{Key}}:{{Value}}\n{{/each}}name={{keyOrDefault "cfg/app/name" "anon"}}\n', destination: 'local/app.conf', changeMode: 'restart' },
      { data: 'APP_PORT={{key "cfg/app/port"}}\n', env: true, changeMode: 'noop' },
    ];
    const set = new TemplateSet({ servers: server.url, specs, taskDir: dir, onChange: (s) => changes.push(s) });
    t.after(() => set.stop());
    const env = await set.render();
    assert.deepEqual(env, { APP_PORT: '8080' });
    const file = path.join(dir, 'local/app.conf');
    assert.equal(fs.readFileSync(file, 'utf8'), 'port=8080\nmode:fast\nport:8080\nname=anon\n');
    await put('cfg/app/name', 'web');
    await waitFor(() => fs.readFileSync(file, 'utf8').includes('name=web'));
    await waitFor(() => changes.length === 1);
    assert.equal(changes[0].changeMode, 'restart', 'only the template whose output changed reports a change');
    await put('cfg/app/port', '9090');
    await waitFor(() => changes.length === 3);
    assert.match(fs.readFileSync(file, 'utf8'), /^port=9090/);
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
