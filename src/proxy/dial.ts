import net from 'node:net';
import type { Endpoint } from './endpoint.ts';

/** A connect that did not finish within its time. */
export class ConnectTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
}

/**
 * A TCP connection to the endpoint, resolved once it is connected; rejected on error or when it
 * is not connected within `timeoutMs`. The socket allows half-open (the proxy forwards each
 * side's FIN on its own) and has Nagle off (the proxy forwards what it gets at once).
 */
export function connectTo(endpoint: Endpoint, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ConnectTimeoutError(`connect to ${endpoint.host}:${endpoint.port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (error: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}
