/**
 * Free ports for tests and benchmarks that start servers in other processes.
 *
 * Asking the kernel for port 0 and closing it hands out a port from the ephemeral range, which the
 * kernel gives to outgoing connections too: between the probe and the child's bind, any client
 * connection on the machine (another test file's, run in parallel) may take it, and the child
 * fails with EADDRINUSE. Ports below that range are never given to outgoing connections, so one
 * picked there at random and probed free (TCP and UDP, for DNS) stays free unless another
 * listener happens to pick the same one.
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';

const FLOOR = 10_000;

/** The first port of the kernel's ephemeral range (32768 when it cannot be read). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > FLOOR + 1000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

const ceiling = ephemeralLow();
const handedOut = new Set<number>();

function probeTcp(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

function probeUdp(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, host, () => s.close(() => resolve(true)));
  });
}

/** A port free on `host` for both TCP and UDP, below the ephemeral range, not handed out before. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = FLOOR + Math.floor(Math.random() * (ceiling - FLOOR));
    if (handedOut.has(port)) continue;
    if ((await probeTcp(port, host)) && (await probeUdp(port, host))) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`Cannot find a free port on ${host} between ${FLOOR} and ${ceiling} after 200 tries`);
}

/** `n` distinct free ports (see `freePort`). */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(await freePort(host));
  return ports;
}
