/**
 * The flags of `berth dev` and `berth server` that let more Host names and web origins reach the
 * API than its own (loopback names, the bind and advertised addresses, pages it serves itself).
 */
import net from 'node:net';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ServerOptions } from '../../server/index.ts';

/** The flags' values. */
export interface BrowserFlags {
  allowedOrigin?: string[];
  allowedHost?: string[];
}

/** `--allowed-origin`: repeated or comma-separated; each an http(s) origin with no path. */
export function collectOrigins(value: string, previous: string[] | undefined): string[] {
  const out = [...(previous ?? [])];
  for (const v of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    let url: URL | undefined;
    try {
      url = new URL(v);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username || v.endsWith('/')) {
      throw new InvalidArgumentError(`expected a web origin such as https://ui.example.com or http://10.0.0.5:8080 (scheme, host, optional port, no path), got "${v}"`);
    }
    out.push(url.origin);
  }
  return out;
}

/** `--allowed-host`: repeated or comma-separated; each a host name or IP address without a port. */
export function collectHosts(value: string, previous: string[] | undefined): string[] {
  const out = [...(previous ?? [])];
  for (const v of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const bare = v.replace(/^\[(.*)\]$/, '$1');
    const name = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/.test(bare);
    if (!name && !net.isIP(bare)) throw new InvalidArgumentError(`expected a host name or IP address without a port (berth.example.com, 10.0.0.5), got "${v}"`);
    out.push(bare.toLowerCase());
  }
  return out;
}

/** Add the flags to `berth dev` or `berth server`. */
export function addBrowserFlags(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--allowed-origin <origin>', 'let web pages from this origin use the API (repeat or comma-separate; default: only pages the server serves itself)')
        .env('BERTH_ALLOWED_ORIGIN')
        .argParser(collectOrigins),
    )
    .addOption(
      new Option('--allowed-host <name>', 'answer to this Host name too (repeat or comma-separate; default: loopback names, the --http-addr and --advertise-url addresses)')
        .env('BERTH_ALLOWED_HOST')
        .argParser(collectHosts),
    );
}

/** The server's browser settings from the flags. */
export function browserOptions(opts: BrowserFlags): ServerOptions['browser'] {
  return { allowedOrigins: opts.allowedOrigin ?? [], allowedHosts: opts.allowedHost ?? [] };
}
