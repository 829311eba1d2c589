import tls from 'node:tls';
import { Agent } from 'undici';
import { readPem } from './files.ts';
import { checkContext } from './server-tls.ts';
import { roleName } from './names.ts';

/** Where a caller's CA and own certificate are. */
export interface ClientTlsFiles {
  /** The CA that signed the peers' certificates. Default: the system's CAs. */
  ca?: string;
  /** This caller's certificate, for peers that verify incoming ones. Default none. */
  cert?: string;
  /** Its key; needed with `cert`. */
  key?: string;
}

/** Settings of a ClientTls. */
export interface ClientTlsOptions {
  /**
   * Names a peer's certificate must carry one of, whatever address it is reached at (Nomad's
   * verify_server_hostname). Default `server.global.berth` when a CA is given, else the address's
   * host name as usual.
   */
  peerNames?: string[];
}

/** The TLS options of one connection: for `ws`, `https.request` and `tls.connect`. */
export interface ConnectTlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  checkServerIdentity?: (host: string, cert: tls.PeerCertificate) => Error | undefined;
}

/**
 * The TLS side of a caller: fetch and WebSocket options that trust the CA, present this caller's
 * certificate and check the peer's role name. `reload()` reads the files again; requests under
 * way finish on the connections they have.
 */
export class ClientTls {
  readonly files: ClientTlsFiles;
  readonly #peerNames: string[] | undefined;
  #connect: ConnectTlsOptions;
  #dispatcher: Agent;

  private constructor(files: ClientTlsFiles, peerNames: string[] | undefined, connect: ConnectTlsOptions) {
    this.files = files;
    this.#peerNames = peerNames;
    this.#connect = connect;
    this.#dispatcher = new Agent({ connect });
  }

  /** Read and check the files; throws an error naming the file and the problem. */
  static load(files: ClientTlsFiles, options: ClientTlsOptions = {}): ClientTls {
    const peerNames = options.peerNames ?? (files.ca ? [roleName('server')] : undefined);
    return new ClientTls(files, peerNames, readClientFiles(files, peerNames));
  }

  /** `fetch` over this TLS setting. */
  readonly fetch = (url: string | URL, init: RequestInit = {}): Promise<Response> => fetch(url, { ...init, dispatcher: this.#dispatcher } as RequestInit);

  /** The options for a WebSocket (`ws`) to a peer. */
  wsOptions(): ConnectTlsOptions {
    return this.#connect;
  }

  /** Read the files again for new connections; on a bad file, throws and keeps the old ones. */
  reload(): void {
    const next = readClientFiles(this.files, this.#peerNames);
    const old = this.#dispatcher;
    this.#connect = next;
    this.#dispatcher = new Agent({ connect: next });
    // Closing waits for the requests under way (a blocking query) to end on their connections.
    void old.close().catch(() => undefined);
  }

  /** Close the connections once their requests end. */
  async close(): Promise<void> {
    await this.#dispatcher.close();
  }
}

function readClientFiles(files: ClientTlsFiles, peerNames: string[] | undefined): ConnectTlsOptions {
  if (!!files.cert !== !!files.key) throw new Error(files.cert ? `the client certificate ${files.cert} needs its key (BERTH_CLIENT_KEY, --client-key)` : `the client key ${files.key} needs its certificate (BERTH_CLIENT_CERT, --client-cert)`);
  const connect: ConnectTlsOptions = {
    ca: files.ca ? readPem(files.ca, 'CA certificate') : undefined,
    cert: files.cert ? readPem(files.cert, 'client certificate') : undefined,
    key: files.key ? readPem(files.key, 'client key') : undefined,
  };
  checkContext(connect, files);
  if (peerNames) connect.checkServerIdentity = (host, cert) => checkPeerName(peerNames, host, cert);
  return connect;
}

/** Undefined when the peer's certificate carries one of `names`, else an error saying what it names. */
export function checkPeerName(names: string[], host: string, cert: tls.PeerCertificate): Error | undefined {
  if (names.some((name) => tls.checkServerIdentity(name, cert) === undefined)) return undefined;
  const err = new Error(`the certificate of ${host} is not for ${names.join(' or ')} (it names ${cert.subjectaltname ?? cert.subject?.CN ?? 'nothing'})`) as NodeJS.ErrnoException;
  err.code = 'ERR_TLS_CERT_ALTNAME_INVALID';
  return err;
}
