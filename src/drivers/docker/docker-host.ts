import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';

/** Where a Docker engine listens when neither the caller nor `DOCKER_HOST` says. */
export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

/** How to reach an engine, as dockerode takes it. */
export interface DockerConnection {
  socketPath?: string;
  host?: string;
  port?: number;
  protocol?: 'http' | 'https';
}

/**
 * Parses a `DOCKER_HOST`-style address: `unix:///path`, a bare `/path`, `tcp://host:port`,
 * `http://host:port` or `https://host:port`. TLS client certificates come with `DockerTlsFiles`.
 */
export function parseDockerHost(address: string): DockerConnection {
  if (address.startsWith('unix://')) {
    const socketPath = address.slice('unix://'.length);
    if (socketPath === '') throw new Error(`Cannot use Docker host "${address}": the unix socket path is empty`);
    return { socketPath };
  }
  if (address.startsWith('/')) return { socketPath: address };
  let url: URL;
  try {
    url = new URL(address.includes('://') ? address : `tcp://${address}`);
  } catch {
    throw new Error(`Cannot use Docker host "${address}": expected unix:///path or tcp://host:port`);
  }
  if (!['tcp:', 'http:', 'https:'].includes(url.protocol)) {
    throw new Error(`Cannot use Docker host "${address}": unsupported scheme "${url.protocol}" (use unix:// or tcp://)`);
  }
  const https = url.protocol === 'https:' || url.port === '2376';
  return { host: url.hostname, port: Number(url.port || (https ? 2376 : 2375)), protocol: https ? 'https' : 'http' };
}

/** The address a driver uses when given none: `DOCKER_HOST`, else the standard socket. */
export function defaultDockerHost(): string {
  return process.env.DOCKER_HOST || DEFAULT_DOCKER_HOST;
}

/** TLS to a remote engine (`dockerd --tlsverify`): the files of the CA and of this client's certificate. */
export interface DockerTlsFiles {
  /** The CA that signed the engine's certificate. */
  ca: string;
  /** This client's certificate and key, which the engine verifies. */
  cert: string;
  key: string;
}

/**
 * The TLS files the Docker CLI would use: with `DOCKER_TLS_VERIFY` set (to anything but "" or
 * "0"), `ca.pem`, `cert.pem` and `key.pem` in `DOCKER_CERT_PATH`, else in `~/.docker`. Undefined
 * without `DOCKER_TLS_VERIFY`.
 */
export function dockerTlsFromEnv(env: NodeJS.ProcessEnv = process.env): DockerTlsFiles | undefined {
  const verify = env.DOCKER_TLS_VERIFY;
  if (!verify || verify === '0') return undefined;
  const dir = env.DOCKER_CERT_PATH || path.join(os.homedir(), '.docker');
  return { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
}

/** The PEM texts of `files`, or an error naming the file that cannot be read. */
function readDockerTls(files: DockerTlsFiles): { ca: string; cert: string; key: string } {
  const read = (file: string, what: string): string => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`Cannot use TLS to the Docker engine: cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message} (check --docker-tls-* or DOCKER_CERT_PATH)`);
    }
  };
  return { ca: read(files.ca, 'CA certificate'), cert: read(files.cert, 'client certificate'), key: read(files.key, 'client key') };
}

/** Settings of `connectDocker`. */
export interface ConnectDockerOptions {
  /** Per-request timeout. Default none. */
  timeoutMs?: number;
  /** TLS to a tcp engine (https, verifying the engine, presenting a client certificate). Default `dockerTlsFromEnv()`. */
  tls?: DockerTlsFiles;
}

/**
 * A dockerode client for `address`. Every connection key is set explicitly because dockerode
 * merges its own `DOCKER_HOST` defaults under the options, and a tcp host from the environment
 * would otherwise win over the socket path asked for here. With TLS files (given, or from
 * DOCKER_TLS_VERIFY and DOCKER_CERT_PATH as the Docker CLI reads them) a tcp engine is reached
 * over https with them; a unix socket ignores them.
 */
export function connectDocker(address: string, options: ConnectDockerOptions = {}): Docker {
  const connection = parseDockerHost(address);
  const files = connection.socketPath ? undefined : (options.tls ?? dockerTlsFromEnv());
  const tls = files ? readDockerTls(files) : undefined;
  return new Docker({
    socketPath: connection.socketPath,
    host: connection.host,
    port: connection.port,
    protocol: tls ? 'https' : connection.protocol,
    timeout: options.timeoutMs,
    ...(tls ?? {}),
  });
}

/** The HTTP status of an Engine API error, when it has one. */
export function dockerStatus(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'statusCode' in error) {
    const status = (error as { statusCode: unknown }).statusCode;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}

/** The engine's own message for an error (dockerode wraps it as "(HTTP code 404) ... - <message>"). */
export function dockerMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'json' in error) {
    const json = (error as { json: unknown }).json;
    if (typeof json === 'object' && json !== null && 'message' in json) {
      const message = (json as { message: unknown }).message;
      if (typeof message === 'string') return message.trim();
    }
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Reads an Engine API progress stream (pull, import) to its end; throws the first error it reports. */
export async function readProgress(stream: NodeJS.ReadableStream): Promise<void> {
  let text = '';
  for await (const chunk of stream as AsyncIterable<Buffer | string>) text += chunk.toString();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let event: { error?: string; errorDetail?: { message?: string } };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      continue;
    }
    if (event.error || event.errorDetail) throw new Error(event.errorDetail?.message ?? event.error);
  }
}
