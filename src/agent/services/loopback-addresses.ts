/**
 * Service addresses on the host's loopback interface, as /32s: processes on the host reach them
 * through `lo`, containers through their bridge's default route (the host delivers locally any
 * packet for an address it holds), and nothing is added to a public interface. `ip` (iproute2)
 * does the netlink work: Node has no netlink socket, and a netlink library in a native addon
 * would be a compile step on every install for four calls.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The outcome of adding an address: held now, or why not (no CAP_NET_ADMIN, no `ip`). */
export type AddResult = { ok: true } | { ok: false; reason: string };

/** Adds addresses to `lo` and removes those it added. */
export class LoopbackAddresses {
  readonly #added = new Set<string>();
  readonly #device: string;

  /** `device`: the interface to hold them; default `lo`. */
  constructor(device = 'lo') {
    this.#device = device;
  }

  /** Hold `address/32` on the device (already held counts as done). */
  async add(address: string): Promise<AddResult> {
    try {
      await run('ip', ['-4', 'addr', 'add', `${address}/32`, 'dev', this.#device]);
      this.#added.add(address);
      return { ok: true };
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      const text = (e.stderr ?? e.message).trim();
      if (/File exists/i.test(text)) return { ok: true };
      if (e.code === 'ENOENT') return { ok: false, reason: 'the `ip` command (iproute2) is not installed' };
      if (/not permitted/i.test(text)) return { ok: false, reason: `the agent lacks CAP_NET_ADMIN (${text})` };
      return { ok: false, reason: text };
    }
  }

  /** Remove the addresses this object added (best effort). */
  async removeAll(): Promise<void> {
    await Promise.all([...this.#added].map((a) => run('ip', ['-4', 'addr', 'del', `${a}/32`, 'dev', this.#device]).catch(() => undefined)));
    this.#added.clear();
  }
}
