import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildProgram } from './program.ts';
import { allCommands, commandPath } from './misuse.ts';
import { completionEntries, completionScript } from './completion.ts';

/**
 * Commands whose output is not a result to parse: long-running processes, a task's own bytes,
 * a command run under a lock, JSON lines already, a shell script, `compose config` (--format json, as docker compose).
 */
const NO_JSON = new Set(['berth dev', 'berth server', 'berth agent', 'berth alloc logs', 'berth alloc exec', 'berth lock', 'berth event stream', 'berth completion', 'berth compose config', 'berth compose logs', 'berth compose exec', 'berth compose pull']);

const program = await buildProgram();

describe('the command tree', () => {
  const leaves = allCommands(program).filter((c) => c.commands.length === 0 || c.name() === 'server');

  it('gives --json to every command that prints a result, new ones included', () => {
    const missing = leaves.filter((c) => !NO_JSON.has(commandPath(c)) && !c.options.some((o) => o.long === '--json')).map(commandPath);
    assert.deepEqual(missing, []);
  });

  it('takes --no-color on every command', () => {
    assert.deepEqual(allCommands(program).filter((c) => !c.options.some((o) => o.long === '--no-color')).map(commandPath), []);
  });

  it('completes every command in every shell', () => {
    const entries = completionEntries(program);
    for (const shell of ['bash', 'zsh', 'fish'] as const) {
      const script = completionScript(shell, entries);
      for (const c of allCommands(program).slice(1)) {
        const path = commandPath(c).split(' ').slice(1).join('/');
        assert.ok(script.includes(`/${path}`), `${shell} knows ${path}`);
      }
    }
  });
});
