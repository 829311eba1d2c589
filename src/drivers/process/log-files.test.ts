import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LogOptions } from '../driver.ts';
import { readLogFiles } from './log-files.ts';

describe('process log files', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-logs-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function read(name: string, options: LogOptions, running = () => false): Promise<string> {
    const files = { stdout: join(dir, `${name}.stdout`), stderr: join(dir, `${name}.stderr`) };
    let text = '';
    for await (const chunk of readLogFiles(files, options, { running, pollMs: 20 })) text += `${chunk.stream}:${chunk.data.toString()}|`;
    return text;
  }

  it('tails lines across read blocks, with or without a final newline', async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i}`);
    await writeFile(join(dir, 'big.stdout'), `${lines.join('\n')}\n`);
    assert.equal(await read('big', { stream: 'stdout', tail: 2 }), 'stdout:line 19998\nline 19999\n|');
    await writeFile(join(dir, 'open.stdout'), 'a\nb\nc');
    assert.equal(await read('open', { tail: 2 }), 'stdout:b\nc|');
    assert.equal(await read('open', { tail: 0 }), '');
    assert.equal(await read('missing', {}), '');
  });

  it('follows appended output until the task stops running', async () => {
    const path = join(dir, 'grow.stdout');
    await writeFile(path, 'first\n');
    let running = true;
    setTimeout(() => void appendFile(path, 'second\n').then(() => (running = false)), 60);
    assert.equal(await read('grow', { follow: true, stream: 'stdout' }, () => running), 'stdout:first\n|stdout:second\n|');
  });
});
