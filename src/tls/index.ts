/**
 * TLS: certificates made with a library (@peculiar/x509; no ASN.1 by hand), read from files, and
 * read again on SIGHUP, for the listeners (ServerTls) and the callers (ClientTls) of berth.
 */
import type { CaOptions, CertOptions, PemPair } from './certs.ts';

export { roleName, DEFAULT_REGION } from './names.ts';
export type { CertRole } from './names.ts';
export type { CaOptions, CertOptions, PemPair } from './certs.ts';
export { pairFiles, readPem, writePair } from './files.ts';
export { ServerTls } from './server-tls.ts';
export type { ServerTlsFiles, ServerTlsOptions } from './server-tls.ts';
export { ClientTls, checkPeerName } from './client-tls.ts';
export type { ClientTlsFiles, ClientTlsOptions, ConnectTlsOptions } from './client-tls.ts';

// The X.509 library is loaded only to make certificates: a CLI command or server that merely
// reads them (every request with BERTH_CACERT set) does not pay for it at start-up.

/** A new certificate authority (ECDSA P-256, five years by default). */
export async function createCa(options?: CaOptions): Promise<PemPair> {
  return (await import('./certs.ts')).createCa(options);
}

/** A new certificate for a server, an agent or the CLI, signed by `ca`. */
export async function createCert(ca: PemPair, options: CertOptions): Promise<PemPair> {
  return (await import('./certs.ts')).createCert(ca, options);
}
