/**
 * Several berth servers behind one address setting (`BERTH_ADDR=http://a:7460,http://b:7460`):
 * a request goes to the server that answered last; when that one does not answer (connection
 * refused, reset or timed out) it goes on to the next, and fails only once none answers.
 */
import { BerthError } from '../model/index.ts';
import { defaultTransport, type Transport } from './transport.ts';

/** The address used when none is given: one server on this host. */
export const DEFAULT_ADDRESS = 'http://127.0.0.1:7460';

/**
 * Failures that happen before a request leaves this host or reaches a server's HTTP layer: a
 * request that failed so was not applied anywhere, so even a POST may go to the next server.
 */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);

/** Methods that may be sent twice with the effect of once (RFC 9110, 9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/** Answers that say "not now" rather than "no": an election under way, etcd unreachable or slow. */
const BUSY = new Set([503, 504]);
/** The first pause between rounds of busy answers; it doubles up to the maximum. */
const BUSY_PAUSE_MS = 250;
const BUSY_PAUSE_MAX_MS = 2_000;

/** Settings of a ServerPool. */
export interface ServerPoolOptions {
  /** How long idempotent requests answered 503 or 504 keep being retried. Default 15 s. */
  busyRetryMs?: number;
  /** Headers sent with every request (credentials: a token, a node secret); a request's own win. */
  headers?: Record<string, string>;
  /** How requests are sent (TLS settings). Default the process default (`setDefaultTransport`), else plain fetch. */
  transport?: Transport;
}

/** One request: what `fetch` takes, plus the per-server timeout. */
export interface PoolRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** The caller's own cancellation: it stops the whole request, not one server's try. */
  signal?: AbortSignal;
  /** How long one server may take before the next is tried; none for blocking and streaming reads. Default none. */
  timeoutMs?: number;
  /**
   * Whether sending the request twice has the effect of sending it once, so that it may be sent
   * again after an unclear failure. Default: by method (GET, HEAD, PUT, DELETE, OPTIONS).
   */
  idempotent?: boolean;
}

/**
 * Split an address setting into server URLs: comma-separated, `http://` added where missing,
 * trailing slashes removed, duplicates dropped.
 */
export function parseAddresses(setting: string | string[]): string[] {
  const parts = (Array.isArray(setting) ? setting : [setting]).flatMap((s) => s.split(','));
  const urls = parts.map((s) => s.trim().replace(/\/+$/, '')).filter(Boolean).map((s) => (/^https?:\/\//.test(s) ? s : `http://${s}`));
  return [...new Set(urls)];
}

/** The servers a client may talk to, remembering the one that answered last. */
export class ServerPool {
  /** Every server, in the order given. */
  readonly addresses: readonly string[];
  #current = 0;
  readonly #busyRetryMs: number;
  readonly #headers: Record<string, string>;
  /** How requests are sent: plain, or with the TLS settings of this process. */
  readonly transport: Transport;

  /** `addresses`: a list or an address setting (comma-separated); default env BERTH_ADDR, else 127.0.0.1:7460. */
  constructor(addresses?: string | string[], options: ServerPoolOptions = {}) {
    const list = parseAddresses(addresses ?? envVar('BERTH_ADDR') ?? DEFAULT_ADDRESS);
    this.addresses = list.length ? list : [DEFAULT_ADDRESS];
    this.#busyRetryMs = options.busyRetryMs ?? 15_000;
    this.#headers = options.headers ?? {};
    this.transport = options.transport ?? defaultTransport();
  }

  /** The server the next request goes to first. */
  get current(): string {
    return this.addresses[this.#current];
  }

  /**
   * Send a request to the current server, and to the next ones in turn while a server does not
   * answer. A request that may have reached a server (reset or timed out after sending) is only
   * sent again when it is idempotent. An idempotent request answered 503 or 504 (no leader during
   * an election, etcd unreachable or slow) goes on to the next server, and round again after a
   * pause, for up to `busyRetryMs`; then the last such answer is returned. Any other HTTP answer
   * is returned as it came. Throws `unavailable`, naming every server tried, when none answered.
   */
  async fetch(path: string, init: PoolRequest = {}): Promise<Response> {
    const method = (init.method ?? 'GET').toUpperCase();
    const idempotent = init.idempotent ?? IDEMPOTENT.has(method);
    const deadline = Date.now() + this.#busyRetryMs;
    for (let round = 0; ; round++) {
      const res = await this.#round(path, method, idempotent, init);
      const pause = Math.min(BUSY_PAUSE_MS * 2 ** round, BUSY_PAUSE_MAX_MS);
      if (!idempotent || !BUSY.has(res.status) || Date.now() + pause > deadline) return res;
      await res.body?.cancel();
      await pauseFor(pause, init.signal);
    }
  }

  /** One try of each server, from the current one: the first final answer, else the last busy one. */
  async #round(path: string, method: string, idempotent: boolean, init: PoolRequest): Promise<Response> {
    const tried: Tried[] = [];
    let busy: Response | undefined;
    for (let i = 0; i < this.addresses.length; i++) {
      const at = (this.#current + i) % this.addresses.length;
      const address = this.addresses[at];
      const signals = [init.signal, init.timeoutMs === undefined ? undefined : AbortSignal.timeout(init.timeoutMs)].filter((s): s is AbortSignal => !!s);
      let res: Response;
      try {
        res = await this.transport.fetch(address + path, { method, headers: { ...this.#headers, ...init.headers }, body: init.body as RequestInit['body'], signal: signals.length ? AbortSignal.any(signals) : undefined });
      } catch (err) {
        if (init.signal?.aborted) throw err;
        const reason = failureReason(err, address);
        tried.push({ address, detail: reason.detail, fix: reason.fix });
        if (!reason.notSent && !idempotent) throw this.#unavailable(tried, `${method} ${path} may or may not have been applied; check before sending it again`);
        continue;
      }
      if (!idempotent || !BUSY.has(res.status)) {
        this.#current = at;
        return res;
      }
      await busy?.body?.cancel();
      busy = res;
    }
    if (busy) return busy;
    throw this.#unavailable(tried);
  }

  #unavailable(tried: Tried[], note?: string): BerthError {
    const fix = note ?? (this.addresses.length > 1 ? 'are they running? BERTH_ADDR lists them, comma-separated' : 'is it running? set BERTH_ADDR to its address');
    if (this.addresses.length === 1) return new BerthError('unavailable', `Cannot reach the berth server at ${tried[0].address}: ${tried[0].detail} (${note ?? tried[0].fix ?? fix})`);
    const list = tried.map((t) => `${t.address} (${t.detail})`).join(', ');
    return new BerthError('unavailable', `Cannot reach any berth server: tried ${list} (${fix})`);
  }
}

/** One server that did not answer, why, and what to do about it where that is known. */
interface Tried {
  address: string;
  detail: string;
  fix?: string;
}

/**
 * TLS handshakes that failed, by the error code Node gives, in words and with the fix. The
 * request was never sent: a handshake comes first.
 */
// The fixes several handshake failures share.
const TRUST_CA = 'set BERTH_CACERT (--ca-cert) to the CA that signed the server certificate';
const GIVE_CLIENT_CERT = 'set BERTH_CLIENT_CERT and BERTH_CLIENT_KEY (--client-cert, --client-key), e.g. from `berth tls cert create --cli`';
const USE_SERVERS_CA = 'use a client certificate signed by the CA the server verifies (--tls-ca on the server)';
const NOT_TLS = 'use an http:// address, or start the server with --tls-cert and --tls-key';
const TLS_FAILURES: Record<string, { detail: string; fix: string }> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: { detail: 'its certificate is not signed by a CA this client trusts', fix: TRUST_CA },
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: { detail: 'its certificate is not signed by a CA this client trusts', fix: TRUST_CA },
  SELF_SIGNED_CERT_IN_CHAIN: { detail: 'its certificate is signed by a CA this client does not trust', fix: TRUST_CA },
  DEPTH_ZERO_SELF_SIGNED_CERT: { detail: 'its certificate is self-signed and not trusted', fix: TRUST_CA },
  CERT_HAS_EXPIRED: { detail: 'its certificate has expired', fix: 'make a new one with `berth tls cert create --server` and send the server SIGHUP' },
  CERT_NOT_YET_VALID: { detail: 'its certificate is not valid yet', fix: "check this host's clock" },
  ERR_TLS_CERT_ALTNAME_INVALID: { detail: 'its certificate is not for a berth server', fix: 'the server needs a certificate from `berth tls cert create --server`' },
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: { detail: 'it requires a client certificate', fix: GIVE_CLIENT_CERT },
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: { detail: 'it refused the TLS handshake (no client certificate?)', fix: GIVE_CLIENT_CERT },
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: { detail: 'it does not trust the CA of this client certificate', fix: USE_SERVERS_CA },
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: { detail: 'it refused this client certificate', fix: USE_SERVERS_CA },
  ERR_SSL_WRONG_VERSION_NUMBER: { detail: 'it does not speak TLS', fix: NOT_TLS },
  ERR_SSL_PACKET_LENGTH_TOO_LONG: { detail: 'it does not speak TLS', fix: NOT_TLS },
};

/** Why a fetch failed, in a word, whether the request surely never reached a server, and the fix where known. */
function failureReason(err: unknown, address: string): { detail: string; notSent: boolean; fix?: string } {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return { detail: 'timed out', notSent: false };
  const code = e.cause?.code;
  const tls = code === undefined ? undefined : TLS_FAILURES[code];
  if (tls) return { detail: `${tls.detail} (${code})`, notSent: true, fix: tls.fix };
  // A server verifying client certificates under TLS 1.3 checks one after the handshake and
  // closes without an alert when it is missing or not of its CA; a TLS server reached over plain
  // HTTP closes too. Neither says more, so say what it most likely was.
  if (code === 'UND_ERR_SOCKET') {
    const fix = address.startsWith('https:')
      ? 'if it runs with --verify-incoming, set BERTH_CLIENT_CERT and BERTH_CLIENT_KEY (--client-cert, --client-key) to a certificate of its CA'
      : 'if it serves HTTPS, use an https:// address';
    return { detail: 'it closed the connection without answering', notSent: false, fix };
  }
  // fetch refuses ports browsers block (1, 25, ...) before connecting: nothing was sent either.
  const blocked = e.cause?.message === 'bad port';
  return { detail: code ?? e.cause?.message ?? e.message, notSent: blocked || (code !== undefined && NOT_SENT.has(code)) };
}

/**
 * Wait `ms`, or until `signal` aborts (then reject with its reason). Not node:timers/promises: this
 * layer also runs in the browser (src/ui), which has only the global timers.
 */
function pauseFor(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** An environment variable of this process; undefined in a browser, which has none. */
export function envVar(name: string): string | undefined {
  return (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env[name];
}
