/**
 * TLS: certificates made with a library (@peculiar/x509; no ASN.1 by hand), read from files, and
 * read again on SIGHUP, for the listeners (ServerTls) and the callers (ClientTls) of berth.
 */
export { createCa, createCert, roleName, DEFAULT_REGION } from './certs.ts';
export type { CaOptions, CertOptions, CertRole, PemPair } from './certs.ts';
export { pairFiles, readPem, writePair } from './files.ts';
export { ServerTls } from './server-tls.ts';
export type { ServerTlsFiles, ServerTlsOptions } from './server-tls.ts';
export { ClientTls, checkPeerName } from './client-tls.ts';
export type { ClientTlsFiles, ClientTlsOptions, ConnectTlsOptions } from './client-tls.ts';
