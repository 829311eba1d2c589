/**
 * How requests reach a server or an agent: plain `fetch`, or one over a TLS setting (a CA to
 * trust, a certificate to present, the peer's role name to check) that the tls layer makes. The
 * CLI sets the process default once from BERTH_CACERT and friends; the agent and the server pass
 * theirs explicitly.
 */

/** The TLS options of one WebSocket connection (`ws`): empty for plain connections. */
export interface WsTlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  checkServerIdentity?: (host: string, cert: never) => Error | undefined;
}

/** A way to send requests. */
export interface Transport {
  fetch(url: string | URL, init?: RequestInit): Promise<Response>;
  /** Options for a WebSocket to the same peers. */
  wsOptions(): WsTlsOptions;
}

/** Requests as they are: the global fetch, no TLS settings. */
export const plainTransport: Transport = {
  fetch: (url, init) => fetch(url, init),
  wsOptions: () => ({}),
};

let processDefault: Transport = plainTransport;

/** Make `transport` what clients built without one use (the CLI does it once, before a command runs). */
export function setDefaultTransport(transport: Transport): void {
  processDefault = transport;
}

/** The transport of clients built without one. */
export function defaultTransport(): Transport {
  return processDefault;
}
