/** Everything variables need on a server, made in one place for `Server.start`. */
import type { Clock, Logger } from '../../lib/index.ts';
import type { StateStore, StateView } from '../../state/index.ts';
import { loadKek, newKey } from './crypto.ts';
import { Keyring } from './keyring.ts';
import { RekeyLoop, type RekeyLoopOptions } from './rekey-loop.ts';
import { VariableService } from './variable-service.ts';
import { WorkloadIdentities } from './workload-identity.ts';

/** Where a server's keyring key-encryption key comes from. */
export interface KeyringOptions {
  /**
   * The KEK file (`<data dir>/keyring.kek`, or `--keyring-kek`). Default: a random KEK kept in this
   * process's memory, shared by every server it starts (tests: servers on one state, restarts).
   */
  kekFile?: string;
  /** Make the file (mode 600) when it does not exist. Default true; false for a file the operator gives. */
  createKek?: boolean;
  /** The rekey loop's batch and interval. */
  rekey?: RekeyLoopOptions;
}

/** The KEK of servers started without a file: random, made once per process, never written anywhere. */
let processKek: Buffer | undefined;

/** Load the KEK, open the keyring (making its first keys if the state has none), and build the services. */
export async function openVariables(
  deps: { view: StateView; store: StateStore; leaderStore: StateStore; clock: Clock; logger: Logger },
  options: KeyringOptions = {},
): Promise<{ keyring: Keyring; variables: VariableService; workloadIdentities: WorkloadIdentities; rekey: RekeyLoop }> {
  const kek = options.kekFile ? await loadKek(options.kekFile, options.createKek ?? true) : (processKek ??= newKey());
  const keyring = new Keyring({ view: deps.view, store: deps.store, clock: deps.clock, logger: deps.logger, kek, kekSource: options.kekFile });
  await keyring.open();
  const variables = new VariableService({ view: deps.view, store: deps.store, clock: deps.clock, keyring });
  const workloadIdentities = new WorkloadIdentities({ view: deps.view, keyring });
  const rekey = new RekeyLoop({ view: deps.view, store: deps.leaderStore, keyring, variables, logger: deps.logger, clock: deps.clock }, options.rekey);
  return { keyring, variables, workloadIdentities, rekey };
}
