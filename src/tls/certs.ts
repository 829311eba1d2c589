// The polyfill @peculiar/x509's dependency injection (tsyringe) needs, loaded before it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { roleName, type CertRole } from './names.ts';

x509.cryptoProvider.set(webcrypto as never);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;


/** A certificate and its private key, both PEM. */
export interface PemPair {
  cert: string;
  key: string;
}


/** Settings of a new CA. */
export interface CaOptions {
  /** Its common name. Default `berth agent CA <random>`, so two clusters' CAs differ by name too. */
  commonName?: string;
  /** Days it is valid. Default 1825 (five years, as Nomad's). */
  days?: number;
}

/** Settings of a new certificate signed by a CA. */
export interface CertOptions {
  role: CertRole;
  /** The region of the role name. Default `global`. */
  region?: string;
  /** More DNS names besides the role name (and localhost for servers and agents). Default none. */
  dnsNames?: string[];
  /** More IP addresses besides 127.0.0.1 (servers and agents). Default none. */
  ipAddresses?: string[];
  /** Days it is valid. Default 365. */
  days?: number;
}

const ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY_MS = 86_400_000;

/** A new certificate authority: a self-signed ECDSA P-256 certificate that may sign certificates. */
export async function createCa(options: CaOptions = {}): Promise<PemPair> {
  const keys = (await webcrypto.subtle.generateKey(ECDSA, true, ['sign', 'verify'])) as CryptoKeyPair;
  const name = `CN=${options.commonName ?? `berth agent CA ${randomBytes(4).toString('hex')}`}`;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name,
    keys,
    signingAlgorithm: ECDSA,
    ...validity(options.days ?? 1825),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await privateKeyPem(keys.privateKey) };
}

/**
 * A new certificate for `role`, signed by `ca`. It carries the role name (`server.global.berth`)
 * that peers verify, and, for servers and agents, localhost and 127.0.0.1, so that a process on
 * the same host reaches it by either. Servers and agents both serve and call (the server proxies
 * to agents, agents call servers), so their certificates allow both; the CLI's only calls.
 */
export async function createCert(ca: PemPair, options: CertOptions): Promise<PemPair> {
  const issuer = new x509.X509Certificate(ca.cert);
  const signingKey = await importSigningKey(ca.key);
  const keys = (await webcrypto.subtle.generateKey(ECDSA, true, ['sign', 'verify'])) as CryptoKeyPair;
  const name = roleName(options.role, options.region);
  const local = options.role === 'cli' ? { dns: [], ip: [] } : { dns: ['localhost'], ip: ['127.0.0.1'] };
  const dns = unique([name, ...local.dns, ...(options.dnsNames ?? [])]);
  const ips = unique([...local.ip, ...(options.ipAddresses ?? [])]);
  for (const ip of ips) if (!isIP(ip)) throw new Error(`"${ip}" is not an IP address`);
  const usages = options.role === 'cli' ? [x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${name}`,
    issuer: issuer.subject,
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: { ...signatureAlgorithm(signingKey), hash: 'SHA-256' },
    ...validity(options.days ?? 365),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(usages),
      new x509.SubjectAlternativeNameExtension([...dns.map((value) => ({ type: 'dns' as const, value })), ...ips.map((value) => ({ type: 'ip' as const, value }))]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer),
    ],
  });
  return { cert: cert.toString('pem'), key: await privateKeyPem(keys.privateKey) };
}

/** The CA's private key as a WebCrypto signing key: ECDSA (P-256, P-384) or RSA, as the CA was made. */
async function importSigningKey(pem: string): Promise<CryptoKey> {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType === 'rsa') return key.toCryptoKey({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
  const curve = { prime256v1: 'P-256', secp384r1: 'P-384' }[key.asymmetricKeyDetails?.namedCurve ?? ''];
  if (key.asymmetricKeyType !== 'ec' || !curve) throw new Error(`the CA key is a ${key.asymmetricKeyType} key${key.asymmetricKeyDetails?.namedCurve ? ` on ${key.asymmetricKeyDetails.namedCurve}` : ''}; berth signs with ECDSA P-256/P-384 or RSA keys`);
  return key.toCryptoKey({ name: 'ECDSA', namedCurve: curve }, false, ['sign']);
}

function signatureAlgorithm(key: CryptoKey): { name: string } {
  return { name: key.algorithm.name };
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** A positive random 16-byte serial (the top bit clear, so it is not read as negative). */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f;
  return bytes.toString('hex');
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  // A minute back, so that a peer whose clock is a little behind accepts it at once.
  const now = Date.now() - 60_000;
  return { notBefore: new Date(now), notAfter: new Date(now + days * DAY_MS) };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
