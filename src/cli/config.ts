import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Command, Option } from 'commander';
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
    cmd.setOptionValueWithSource(attr, settingValue(option, value, `Cannot use config file ${file}: setting "${key}"`), 'config');
  }
}

/** A file setting as the option's flag would have given it: parsed and checked the same way. */
function settingValue(option: Option, value: unknown, context: string): unknown {
  if (value === null || (typeof value === 'object' && !Array.isArray(value))) throw new CliError(`${context} needs a value, got ${JSON.stringify(value)}`, EXIT_USAGE);
  if (option.isBoolean()) {
    if (typeof value !== 'boolean') throw new CliError(`${context} must be true or false, got ${JSON.stringify(value)}`, EXIT_USAGE);
    return value;
  }
  if (Array.isArray(value) && !option.variadic) throw new CliError(`${context} takes one value, got a list`, EXIT_USAGE);
  const texts = (Array.isArray(value) ? value : [value]).map(String);
  try {
    const parsed = option.parseArg ? texts.map((t) => option.parseArg!(t, undefined)) : texts;
    // A variadic option is a list even when the file gives one value (`run: web.yaml`).
    return option.variadic ? parsed : parsed[0];
  } catch (err) {
    // The option's parser or choices refused it (commander's InvalidArgumentError).
    const message = (err as Error).message;
    throw new CliError(`${context}: ${message.includes(texts.join(' ')) ? message : `${message} (got ${JSON.stringify(value)})`}`, EXIT_USAGE);
  }
}
