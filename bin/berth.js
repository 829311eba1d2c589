#!/usr/bin/env node
// The berth command. It runs the build (dist/, bundled by `npm run build`, which `npm ci` and
// `npm install` run through `prepare`), never the TypeScript sources.
//
// berth needs Node 24, and brings it: the `node` package it depends on installs Node 24 into
// node_modules. When the `node` on PATH is older (a system Node 20, say), this file, written to
// run on any Node since 14, starts berth again on that packaged Node.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const NEEDED_MAJOR = 24;
const here = path.dirname(fileURLToPath(import.meta.url));

/** The packaged Node 24 (node_modules/node/bin/node), wherever npm placed the `node` package. */
function packagedNode() {
  try {
    const pkg = createRequire(import.meta.url).resolve('node/package.json');
    const bin = path.join(path.dirname(pkg), 'bin', 'node');
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

/** Run this same command on `node`, passing signals on, and exit as it exits. */
function reexec(node) {
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']) process.on(signal, () => child.kill(signal));
  child.on('error', (err) => {
    console.error(`berth: cannot start ${node}: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (code !== null) process.exit(code);
    // Killed by a signal: die of the same one, as a shell expects.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  });
}

const major = Number(process.versions.node.split('.')[0]);
if (major < NEEDED_MAJOR) {
  const node = packagedNode();
  if (!node) {
    console.error(
      `berth needs Node.js ${NEEDED_MAJOR} or newer; this is ${process.version} (${process.execPath}).\n` +
        `Install Node.js ${NEEDED_MAJOR} (https://nodejs.org), or reinstall berth so that npm installs its packaged Node ${NEEDED_MAJOR} (the "node" dependency).`,
    );
    process.exit(1);
  }
  reexec(node);
} else {
  const main = path.join(here, '..', 'dist', 'main.js');
  if (!existsSync(main)) {
    console.error(`berth is not built: ${main} is missing. Run \`npm run build\` in ${path.dirname(here)}.`);
    process.exit(1);
  }
  await import(pathToFileURL(main).href);
}
