/**
 * Receiving and answering UDP datagrams with the least per-datagram work Node allows.
 *
 * At a few hundred thousand queries a second, Node's public dgram path costs more than finding the
 * answer: every datagram goes through an EventEmitter `emit`, and every reply through `send`'s
 * argument handling, a lookup callback, an async-id scope and a new request object. Where the
 * socket's native handle is reachable, this talks to it as dgram itself does: datagrams arrive on
 * the handle's `onmessage`, replies go out through `handle.send`, which completes at once
 * (uv_udp_try_send) unless the socket buffer is full, and then keeps its buffer alive until done.
 * Node offers no public way to this (no recvmmsg or sendmmsg). When the handle is not what this
 * expects (another Node version), the public API is used instead.
 *
 * The workers now bind with `reusePort` (cluster.ts); the figures below are from before.
 * Measured on Node 24.21 with bench/dns.ts (2 workers, median of 3 runs each, load average 5-11,
 * 2026-12-01; bench/RESULTS.md): berth/dnsmasq 0.88x on this path with the workers sharing one
 * socket, 0.70x through the public API (socket.on('message') and socket.send) on the same shared
 * socket, 0.79x and 0.71x with each worker on its own socket through dgram's `reusePort`
 * (SO_REUSEPORT; native handle, public API). The public API loses about a fifth of the rate, so
 * this path stays.
 */
import type dgram from 'node:dgram';
import util from 'node:util';

/** Where a datagram came from. */
export interface Peer {
  address: string;
  port: number;
}

/** A socket being served. */
export interface DatagramService {
  /**
   * Send one datagram; errors are dropped, as dgram does for a send without callback. True when
   * the kernel has taken the bytes already, so that `buf` may be reused at once (only ever on the
   * native handle).
   */
  send(buf: Buffer, port: number, address: string): boolean;
  /** True when the native handle is used, false on the public API. */
  readonly direct: boolean;
}

/** Options of `serveDatagrams`. */
export interface ServeDatagramsOptions {
  /** Use the public dgram API even where the native handle is reachable. Default false. */
  publicApi?: boolean;
}

/** The native handle as dgram drives it (node/src/udp_wrap.cc). */
interface UdpHandle {
  onmessage: (nread: number, handle: unknown, buf: Buffer, rinfo: Peer) => void;
  send(req: object, list: Buffer[], count: number, port: number, address: string, hasCallback: boolean): number;
}

type SendWrapClass = new () => object & { list?: Buffer[] };

/**
 * Call `onDatagram` for every datagram the (bound, listening) socket receives, and return how to
 * answer. A receive error is emitted on the socket as an 'error' event, as dgram does.
 */
export function serveDatagrams(socket: dgram.Socket, onDatagram: (msg: Buffer, peer: Peer) => void, options: ServeDatagramsOptions = {}): DatagramService {
  const native = options.publicApi ? undefined : nativeParts(socket);
  if (!native) {
    socket.on('message', onDatagram);
    return {
      direct: false,
      send: (buf, port, address) => {
        socket.send(buf, port, address);
        return false;
      },
    };
  }
  const { handle, SendWrap } = native;
  handle.onmessage = (nread, _handle, buf, rinfo) => {
    if (nread < 0) return void socket.emit('error', new Error(`Cannot receive a datagram: ${util.getSystemErrorName(nread)}`));
    onDatagram(buf, rinfo);
  };
  let req = new SendWrap();
  return {
    direct: true,
    send: (buf, port, address) => {
      const list = [buf];
      // >= 1: sent already (its length + 1). 0: queued until the socket drains; the request
      // object must then keep the buffer alive, and the next send needs a new one. < 0: failed.
      const sent = handle.send(req, list, 1, port, address, false);
      if (sent === 0) {
        req.list = list;
        req = new SendWrap();
      }
      return sent !== 0;
    },
  };
}

/** The socket's native handle and the request class its sends need, when both look as expected. */
function nativeParts(socket: dgram.Socket): { handle: UdpHandle; SendWrap: SendWrapClass } | undefined {
  try {
    const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
    const handle = state && (socket as unknown as Record<symbol, { handle?: Partial<UdpHandle> } | undefined>)[state]?.handle;
    if (typeof handle?.send !== 'function' || typeof handle.onmessage !== 'function') return undefined;
    // Deprecated for general use (DEP0111, documentation only) but kept by Node 20 and 24 for exactly this module.
    const binding = (process as unknown as { binding(name: string): { SendWrap?: SendWrapClass } }).binding('udp_wrap');
    if (typeof binding.SendWrap !== 'function') return undefined;
    return { handle: handle as UdpHandle, SendWrap: binding.SendWrap };
  } catch {
    return undefined;
  }
}
