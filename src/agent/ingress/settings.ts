import fs from 'node:fs';
import path from 'node:path';
import { INGRESS_NODE_META } from '../../model/index.ts';
import type { Logger } from '../../lib/index.ts';
import { BuiltinIngress } from './builtin.ts';
import type { IngressDataPath } from './data-path.ts';
import { HaproxyIngress } from './haproxy.ts';
import { formatAddress, type ListenAddress } from './ingress-plan.ts';

/** `berth agent --ingress HOST:PORT ... --ingress-proxy builtin|haproxy`. */
export interface IngressSettings {
  /** The HTTP addresses (at least one). */
  addresses: ListenAddress[];
  /** The data path. Default builtin. */
  proxy?: 'builtin' | 'haproxy';
  /** The haproxy program for `proxy: haproxy`. Default `haproxy` on PATH. */
  haproxyBinary?: string;
  /** Time a client has to send a request, and an instance to start its answer (then 504). Default 60 s. */
  requestTimeoutMs?: number;
  /** How long a keep-alive connection, a WebSocket or a TCP route's connection may sit idle. Default 60 s. */
  idleTimeoutMs?: number;
}

/** The request and idle timeouts' default, as the built-in router's (proxy/ingress-router.ts). */
const DEFAULT_TIMEOUT_MS = 60_000;

/** The data path the settings ask for. */
export function makeDataPath(settings: IngressSettings, at: { dataDir: string; logger: Logger }): IngressDataPath {
  if (settings.proxy === 'haproxy') {
    return new HaproxyIngress({ addresses: settings.addresses, dir: path.join(at.dataDir, 'ingress-haproxy'), logger: at.logger, binary: settings.haproxyBinary, timeouts: timeoutsOf(settings) });
  }
  return new BuiltinIngress({ addresses: settings.addresses, logger: at.logger, ...timeoutsOf(settings) });
}

function timeoutsOf(settings: IngressSettings): { requestTimeoutMs: number; idleTimeoutMs: number } {
  return { requestTimeoutMs: settings.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS, idleTimeoutMs: settings.idleTimeoutMs ?? DEFAULT_TIMEOUT_MS };
}

/**
 * The node meta of an ingress node: its addresses, data path, and the lowest port it may bind
 * (0 as root, else the kernel's net.ipv4.ip_unprivileged_port_start), which the server checks
 * a privileged TCP route against at submit.
 */
export function ingressNodeMeta(settings: IngressSettings): Record<string, string> {
  return {
    [INGRESS_NODE_META.addresses]: settings.addresses.map(formatAddress).join(','),
    [INGRESS_NODE_META.proxy]: settings.proxy ?? 'builtin',
    [INGRESS_NODE_META.portStart]: String(unprivilegedPortStart()),
  };
}

function unprivilegedPortStart(): number {
  if (process.getuid?.() === 0) return 0;
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
  } catch {
    return 1024;
  }
}
