/** Where `--log-forward URL` sends task output, parsed and checked before the agent starts. */

/**
 * A parsed `--log-forward` value. `name` is how it is shown in the agent's log and metrics
 * labels: its URL with any password replaced by `***`.
 */
export type LogTarget =
  | { kind: 'syslog' | 'syslog-tcp'; host: string; port: number; name: string }
  | {
      kind: 'http';
      /** The URL without credentials (fetch refuses a URL that carries them). */
      url: string;
      /** `Basic ...` from the URL's user and password, if it had them. */
      authorization?: string;
      name: string;
    };

/** The forms `--log-forward` takes, for error messages. */
export const LOG_TARGET_FORMS = 'syslog://HOST:514 (RFC 5424 over UDP), syslog+tcp://HOST:601 (RFC 5424 over TCP, octet-counted) or http(s)://[USER:PASSWORD@]HOST/PATH (JSON lines)';

/** `--log-forward`'s value, checked: the error names the value and says what is accepted. */
export function parseLogTarget(value: string): { ok: true; target: LogTarget } | { ok: false; error: string } {
  const fail = (why: string): { ok: false; error: string } => ({ ok: false, error: `${why}; use ${LOG_TARGET_FORMS}` });
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(`"${value}" is not a URL`);
  }
  if ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname) return { ok: true, target: httpTarget(url) };
  const kind = url.protocol === 'syslog:' || url.protocol === 'syslog+udp:' ? 'syslog' : url.protocol === 'syslog+tcp:' ? 'syslog-tcp' : undefined;
  if (!kind) return fail(`"${value}" has scheme ${url.protocol.replace(/:$/, '')}`);
  if (!url.hostname) return fail(`"${value}" names no host`);
  if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash || url.username || url.password) return fail(`"${value}": a syslog target is a host and port only`);
  const port = url.port ? Number(url.port) : kind === 'syslog' ? 514 : 601;
  const scheme = kind === 'syslog' ? 'syslog' : 'syslog+tcp';
  // URL keeps an IPv6 host in brackets; sockets want it bare.
  return { ok: true, target: { kind, host: url.hostname.replace(/^\[|\]$/g, ''), port, name: `${scheme}://${url.hostname}:${port}` } };
}

/** An http(s) target: credentials in the URL become a basic-auth header and are kept out of its name. */
function httpTarget(url: URL): LogTarget {
  const name = new URL(url.href);
  if (name.password) name.password = '***';
  if (!url.username && !url.password) return { kind: 'http', url: url.href, name: name.href };
  const user = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  const bare = new URL(url.href);
  bare.username = '';
  bare.password = '';
  return { kind: 'http', url: bare.href, authorization: `Basic ${Buffer.from(user).toString('base64')}`, name: name.href };
}
