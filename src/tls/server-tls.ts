import tls from 'node:tls';
import { readPem } from './files.ts';

/** Where a listener's certificate, key and CA are, and whether callers must present certificates. */
export interface ServerTlsFiles {
  /** The certificate (PEM; may be followed by its chain). */
  cert: string;
  /** Its private key (PEM). */
  key: string;
  /** The CA that signs callers' certificates; required with `verifyIncoming`. Default none. */
  ca?: string;
  /** Refuse callers without a certificate signed by `ca` (mutual TLS). Default false. */
  verifyIncoming?: boolean;
  /**
   * With `verifyIncoming`, also refuse callers whose certificate carries none of these names: an
   * agent's endpoint takes only servers (`server.global.berth`), not the CLI. Default: any
   * certificate of the CA.
   */
  callerNames?: string[];
}

/** What a TLS listener is given: PEM texts and the client-certificate policy. */
export interface ServerTlsOptions {
  cert: string;
  key: string;
  ca?: string;
  requestCert: boolean;
  rejectUnauthorized: boolean;
  minVersion: 'TLSv1.2';
}

/**
 * The TLS side of a listener: its certificate and key read from files, and read again on
 * `reload()`, which hands every attached server the new ones through `setSecureContext`: new
 * handshakes get the new certificate, open connections go on undisturbed.
 */
export class ServerTls {
  readonly files: ServerTlsFiles;
  #options: ServerTlsOptions;
  readonly #servers = new Set<tls.Server>();

  private constructor(files: ServerTlsFiles, options: ServerTlsOptions) {
    this.files = files;
    this.#options = options;
  }

  /** Read and check the files; throws an error naming the file and the problem. */
  static load(files: ServerTlsFiles): ServerTls {
    return new ServerTls(files, readServerFiles(files));
  }

  /** Whether callers must present a certificate signed by the CA. */
  get verifyIncoming(): boolean {
    return this.#options.requestCert;
  }

  /** The options for `https.createServer` (fastify's `https`). */
  get options(): ServerTlsOptions {
    return this.#options;
  }

  /** Follow this server: `reload()` gives it the new certificate; callers are held to `callerNames`. */
  attach(server: tls.Server): void {
    this.#servers.add(server);
    server.once('close', () => this.#servers.delete(server));
    const names = this.files.callerNames;
    if (!this.files.verifyIncoming || !names?.length) return;
    // Runs before the first request is read from the connection: the HTTP layer waits for data.
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      const cert = socket.getPeerCertificate();
      if (!names.some((name) => tls.checkServerIdentity(name, cert) === undefined)) socket.destroy();
    });
  }

  /** Read the files again and use them for new handshakes; on a bad file, throws and keeps the old ones. */
  reload(): void {
    const next = readServerFiles(this.files);
    for (const server of this.#servers) server.setSecureContext(next);
    this.#options = next;
  }
}

function readServerFiles(files: ServerTlsFiles): ServerTlsOptions {
  if (files.verifyIncoming && !files.ca) throw new Error('verifying incoming certificates needs the CA that signs them (--tls-ca)');
  const options: ServerTlsOptions = {
    cert: readPem(files.cert, 'certificate'),
    key: readPem(files.key, 'key'),
    ca: files.ca ? readPem(files.ca, 'CA certificate') : undefined,
    requestCert: !!files.verifyIncoming,
    rejectUnauthorized: !!files.verifyIncoming,
    minVersion: 'TLSv1.2',
  };
  checkContext(options, files);
  return options;
}

/** Build a context once, so a key that does not match its certificate is found at start, not at the first handshake. */
export function checkContext(options: { cert?: string; key?: string; ca?: string }, files: { cert?: string; key?: string; ca?: string }): void {
  try {
    tls.createSecureContext(options);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH') throw new Error(`the key ${files.key} does not belong to the certificate ${files.cert}`);
    throw new Error(`cannot use the certificate ${files.cert ?? ''} with key ${files.key ?? ''}${files.ca ? ` and CA ${files.ca}` : ''}: ${e.message}`);
  }
}
