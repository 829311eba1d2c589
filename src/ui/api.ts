/**
 * The UI's one way to the server: api/'s typed client at this page's origin, with the ACL token
 * the user gave (kept in session storage only: it goes with the tab). A 401 asks for a token.
 */
import { BerthClient, DiscoveryClient, type ServerPool } from '../api/index.ts';
import { isBerthError } from '../model/index.ts';

const TOKEN_KEY = 'berth.token';

let token = sessionStorage.getItem(TOKEN_KEY) ?? '';
let berth = make();
let discovery = new DiscoveryClient(berth.servers);
const tokenListeners = new Set<() => void>();

function make(): BerthClient {
  // One address: the server that served the page. busy retries stay short so the UI shows a lost connection soon.
  return new BerthClient({ address: location.origin, token, timeoutMs: 15_000 });
}

/** The typed client of berth's API. */
export function api(): BerthClient {
  return berth;
}

/** The typed client of the KV, catalog and event routes. */
export function discoveryApi(): DiscoveryClient {
  return discovery;
}

/** A pool for raw requests (the UI has none; exported for the exec WebSocket URL). */
export function pool(): ServerPool {
  return berth.servers;
}

/** The token requests carry now. */
export function currentToken(): string {
  return token;
}

/** Use `value` from now on (empty: none), for this tab only. */
export function setToken(value: string): void {
  token = value.trim();
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  berth = make();
  discovery = new DiscoveryClient(berth.servers);
  for (const l of tokenListeners) l();
}

/** Be told when the token changes. */
export function onTokenChange(listener: () => void): () => void {
  tokenListeners.add(listener);
  return () => tokenListeners.delete(listener);
}

/** True for an answer that says the request needs a (better) token. */
export function needsToken(err: unknown): boolean {
  return isBerthError(err, 'unauthorized');
}

/** True when the server could not be reached at all. */
export function unreachable(err: unknown): boolean {
  return isBerthError(err, 'unavailable') || (err instanceof TypeError && /fetch/i.test(err.message));
}
