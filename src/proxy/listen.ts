import type net from 'node:net';

/** Where a listener is bound. */
export interface BoundAddress {
  host: string;
  port: number;
}

/** Bind a server (TCP or HTTP) to `host` and `port` (0: any free one); resolves with the bound address. */
export function listenOn(server: net.Server, host: string, port = 0): Promise<BoundAddress> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve(boundAddress(server));
    });
  });
}

/** The address a listening server is bound to. */
export function boundAddress(server: net.Server): BoundAddress {
  const address = server.address() as net.AddressInfo;
  return { host: address.address, port: address.port };
}
