import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { printJson } from '../output.ts';

/** What `berth version` reports. */
export interface VersionInfo {
  version: string;
  node: string;
  platform: string;
  arch: string;
}

/** berth's own version, read from its package.json so that it cannot drift from the release. */
export function berthVersion(): string {
  // The nearest package.json above this file: the package root, from the sources (src/cli/commands/)
  // and from the bundle (dist/) alike.
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

/** `berth version [--json]`: berth's version, the Node.js it runs on and the platform; asks no server. */
export function versionCommand(): Command {
  return new Command('version')
    .description('Print the version of berth, of the Node.js it runs on, and the platform')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const info: VersionInfo = { version: berthVersion(), node: process.versions.node, platform: process.platform, arch: process.arch };
      if (opts.json) printJson(info);
      else process.stdout.write(`berth v${info.version}\nnode v${info.node}\nplatform ${info.platform}/${info.arch}\n`);
    });
}
