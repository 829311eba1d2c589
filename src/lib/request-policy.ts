/**
 * Who may talk to an HTTP endpoint on this host, judged from the request's `Host` and `Origin`
 * headers: the defence against web pages the user visits (cross-site requests, DNS rebinding).
 * Pure apart from reading the host's interface addresses when bound to every interface.
 *
 * Written here rather than taken from a library: the CORS packages decide which response headers
 * to send for an allowed origin; what berth needs is the refusal of a request before it runs,
 * Host included, for both the server and the agent, and no such package does that.
 */
import os from 'node:os';

/** The names an endpoint answers to and the web origins it lets in. */
export interface RequestPolicy {
  /**
   * Host names and addresses accepted in `Host` besides the loopback names (localhost, 127.0.0.0/8,
   * ::1): the bind address, the advertised addresses, configured ones. Ports are not compared.
   */
  hosts: readonly string[];
  /** Bound to every interface (0.0.0.0 or ::): any address of this host's interfaces is accepted too. */
  anyInterface: boolean;
  /** Web origins (`https://ui.example.com:8443`) allowed besides the endpoint's own. */
  origins: readonly string[];
  /** Requests from a page the endpoint served itself (Origin equal to the Host it was asked at) pass. The agent: false. */
  sameOrigin: boolean;
  /** This host's interface addresses, for `anyInterface`. Default: read from the OS at each check. */
  localAddresses?: () => string[];
}

/** The headers a request is judged by. */
export interface RequestHeaders {
  host?: string;
  origin?: string;
}

/** Why a request was refused: the header, its value, and a sentence on the risk. */
export type RequestVerdict = { ok: true } | { ok: false; header: 'host' | 'origin'; value: string; reason: string };

/**
 * Judge a request: its `Host` must be a name the endpoint answers to (a page that rebinds its own
 * DNS name to this address sends its own name), and its `Origin`, when it has one, must be the
 * endpoint's own or a configured one (the CLI, curl and the other berth processes send none).
 */
export function checkRequest(headers: RequestHeaders, policy: RequestPolicy, scheme: 'http' | 'https'): RequestVerdict {
  const host = headers.host;
  if (host !== undefined) {
    const name = hostnameOf(host);
    if (name === undefined || !hostAllowed(name, policy)) {
      return { ok: false, header: 'host', value: host, reason: 'it is not a name this endpoint answers to (a page that rebinds its DNS name to this address sends its own name)' };
    }
  }
  const origin = headers.origin;
  if (origin === undefined) return { ok: true };
  if (origin === 'null') {
    return { ok: false, header: 'origin', value: origin, reason: 'an opaque origin (a sandboxed frame, a file: or data: page) cannot be told apart from a hostile page' };
  }
  const normalized = originOf(origin);
  if (normalized !== undefined && policy.origins.includes(normalized)) return { ok: true };
  if (normalized !== undefined && policy.sameOrigin && host !== undefined && normalized === originOf(`${scheme}://${host}`)) return { ok: true };
  return { ok: false, header: 'origin', value: origin, reason: 'a web page from another site must not drive this endpoint' };
}

/** True for localhost and the loopback addresses (127.0.0.0/8, ::1). */
export function isLoopback(name: string): boolean {
  const n = normalizeName(name);
  return n === 'localhost' || n === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(n);
}

/** True for the wildcard addresses that bind every interface. */
export function isAnyAddress(name: string): boolean {
  const n = normalizeName(name);
  return n === '0.0.0.0' || n === '::' || n === '';
}

/** `https://x.example:443/` as `https://x.example`; undefined for what is no http(s) origin. */
export function originOf(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return url.origin;
}

/** The host name of a Host header value (`[::1]:7460` -> `::1`), lower case; undefined if it is none. */
export function hostnameOf(host: string): string | undefined {
  if (host === '' || /[\s/?#@\\]/.test(host)) return undefined;
  try {
    return normalizeName(new URL(`http://${host}`).hostname);
  } catch {
    return undefined;
  }
}

function hostAllowed(name: string, policy: RequestPolicy): boolean {
  if (isLoopback(name)) return true;
  if (policy.hosts.some((h) => normalizeName(h) === name)) return true;
  if (!policy.anyInterface) return false;
  const local = policy.localAddresses?.() ?? interfaceAddresses();
  return local.some((a) => normalizeName(a) === name);
}

function interfaceAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address));
}

/** Lower case, without IPv6 brackets, a zone id or a trailing dot. */
function normalizeName(name: string): string {
  return name.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '').replace(/\.$/, '');
}
