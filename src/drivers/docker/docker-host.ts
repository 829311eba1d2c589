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
 * `http://host:port` or `https://host:port`. TLS client certificates are not handled.
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

/**
 * A dockerode client for `address`. Every connection key is set explicitly because dockerode
 * merges its own `DOCKER_HOST` defaults under the options, and a tcp host from the environment
 * would otherwise win over the socket path asked for here.
 */
export function connectDocker(address: string, options: { timeoutMs?: number } = {}): Docker {
  const connection = parseDockerHost(address);
  return new Docker({
    socketPath: connection.socketPath,
    host: connection.host,
    port: connection.port,
    protocol: connection.protocol,
    timeout: options.timeoutMs,
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
