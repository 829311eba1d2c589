import { isLoopback } from '../lib/index.ts';

/** How a server is about to be exposed. */
export interface ExposureSettings {
  /** The host of `--http-addr`. */
  bindAddress: string;
  /** ACLs are enforced (`--acl`). */
  aclEnabled: boolean;
  /** The API speaks HTTPS (`--tls-cert`/`--tls-key`). */
  tlsEnabled: boolean;
}

/**
 * The warning a server prints on stderr when it listens beyond loopback without ACLs or without
 * TLS: what anyone who reaches it can do, and the flags that close it. Undefined when there is
 * nothing to warn about (a loopback address, or both on).
 */
export function securityWarning(s: ExposureSettings): string | undefined {
  if (isLoopback(s.bindAddress) || (s.aclEnabled && s.tlsEnabled)) return undefined;
  const where = /:/.test(s.bindAddress) ? `[${s.bindAddress}]` : s.bindAddress;
  const everywhere = s.bindAddress === '0.0.0.0' || s.bindAddress === '::' ? ' (every interface of this host)' : '';
  const lines = [`WARNING: the berth API listens on ${where}${everywhere}, beyond this host, ${missing(s)}.`];
  if (!s.aclEnabled) {
    lines.push(
      '  Without ACLs, anyone who can reach this address can run containers as root on every node,',
      '  open a shell in any task and read or change every KV key. Turn ACLs on with --acl.',
    );
  }
  if (!s.tlsEnabled) {
    lines.push(
      '  Without TLS, job specs, KV values and tokens cross the network in plain text for anyone on',
      '  the path to read or change. Serve HTTPS with --tls-cert <file> --tls-key <file>.',
    );
  }
  lines.push('  Or keep the API on this host: --http-addr 127.0.0.1:7460.');
  return `${lines.join('\n')}\n`;
}

function missing(s: ExposureSettings): string {
  if (!s.aclEnabled && !s.tlsEnabled) return 'without ACLs and without TLS';
  return s.aclEnabled ? 'without TLS' : 'without ACLs';
}
