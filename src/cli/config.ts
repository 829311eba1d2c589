import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Command } from 'commander';
import { CliError, EXIT_USAGE } from './errors.ts';

/**
 * Apply a `--config FILE` (YAML) to a command: a setting from the file fills an option that
 * neither a flag nor a BERTH_* variable set, so the precedence is flag > env > file > default.
 * Keys are the long flag names (`http-addr: 0.0.0.0:7460`).
 */
export function applyConfigFile(cmd: Command): void {
  const file = cmd.getOptionValue('config') as string | undefined;
  if (!file) return;
  let data: unknown;
  try {
    data = parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`Cannot read config file ${file}: ${(err as Error).message}`, EXIT_USAGE);
  }
  if (data === null || data === undefined) return;
  if (typeof data !== 'object' || Array.isArray(data)) throw new CliError(`Cannot use config file ${file}: it must be a YAML mapping of option names to values`, EXIT_USAGE);
  const known = new Map(cmd.options.map((o) => [o.long?.replace(/^--/, '') ?? '', o]));
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    const option = known.get(key);
    if (!option || key === 'config') {
      const names = [...known.keys()].filter((k) => k !== 'config' && k !== 'help').join(', ');
      throw new CliError(`Cannot use config file ${file}: unknown setting "${key}" (known: ${names})`, EXIT_USAGE);
    }
    const attr = option.attributeName();
    const source = cmd.getOptionValueSource(attr);
    if (source === 'cli' || source === 'env') continue;
    const text = Array.isArray(value) ? value.map(String) : String(value);
    const parsed = option.parseArg && !Array.isArray(text) ? option.parseArg(text, undefined) : text;
    cmd.setOptionValueWithSource(attr, parsed, 'config');
  }
}
