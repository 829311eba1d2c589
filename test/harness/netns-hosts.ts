/**
 * Hosts as network namespaces on one link with the root namespace (where the server listens),
 * each with its own dockerd (own docker0 and subnet): what cross-host tests run their agents on.
 */
import { startDockerd, type DockerEnv } from './dockerd.ts';
import { ip } from './netns.ts';

/** Options of `startNetnsHosts`. */
export interface NetnsHostsOptions {
  /** Short and unique per test file and process: names the namespaces and the link's bridge (at most 8 characters). */
  tag: string;
  /** The link's /24, three octets (`10.215.7`): the root namespace is .1, the hosts .2, .3, ... */
  subnet: string;
  /** Each host's docker0 address and subnet (`172.28.3.1/24`), in host order. */
  bips: string[];
}

/** One host: its namespace, its address on the link and its dockerd. */
export interface NetnsHost {
  ns: string;
  address: string;
  engine: DockerEnv;
}

/** The hosts, and how to take them all down (engines, namespaces, the link). */
export interface NetnsHosts {
  hosts: NetnsHost[];
  /** The root namespace's address on the link (where a server for the hosts listens). */
  rootAddress: string;
  stop(): Promise<void>;
}

/** Makes the link and the hosts and starts a dockerd in each; on failure, takes down what it made. */
export async function startNetnsHosts(o: NetnsHostsOptions): Promise<NetnsHosts> {
  const bridge = `b${o.tag}`;
  const names = o.bips.map((_, i) => `berth-${o.tag}-${i}`);
  const hosts: NetnsHost[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(hosts.map((h) => h.engine.stop().catch(() => undefined)));
    for (const n of [...names.map((x) => ['netns', 'del', x]), ['link', 'del', bridge]]) {
      try {
        ip(...n);
      } catch {
        // Never made.
      }
    }
  };
  try {
    // Not through iptables: a host whose FORWARD policy drops (a system dockerd's) must not cut the link.
    ip('link', 'add', bridge, 'type', 'bridge', 'nf_call_iptables', '0');
    ip('addr', 'add', `${o.subnet}.1/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    for (const [i, n] of names.entries()) {
      ip('netns', 'add', n);
      ip('link', 'add', `${bridge}${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n);
      ip('link', 'set', `${bridge}${i}`, 'master', bridge, 'up');
      ip('-n', n, 'addr', 'add', `${o.subnet}.${i + 2}/24`, 'dev', 'eth0');
      ip('-n', n, 'link', 'set', 'eth0', 'up');
      ip('-n', n, 'link', 'set', 'lo', 'up');
    }
    const engines = await Promise.all(names.map((n, i) => startDockerd({ netns: n, bip: o.bips[i] })));
    hosts.push(...engines.map((engine, i) => ({ ns: names[i], address: `${o.subnet}.${i + 2}`, engine })));
  } catch (err) {
    await stop();
    throw err;
  }
  return { hosts, rootAddress: `${o.subnet}.1`, stop };
}
