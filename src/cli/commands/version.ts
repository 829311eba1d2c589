import fs from 'node:fs';
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
  // src/cli/commands/ and the build's dist/cli/commands/ both sit three levels below the package root.
  const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
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
