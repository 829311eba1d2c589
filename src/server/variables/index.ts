/** Variables: encrypted at rest under the servers' keyring, read by path, and workload identities. */
export { Keyring, WORKLOAD_KEY_ID } from './keyring.ts';
export type { KeyringDeps } from './keyring.ts';
export { VariableService } from './variable-service.ts';
export { WorkloadIdentities, WORKLOAD_TOKEN_PREFIX, jobVariablesPath } from './workload-identity.ts';
export { RekeyLoop } from './rekey-loop.ts';
export type { RekeyLoopOptions } from './rekey-loop.ts';
export { loadKek, newKey, seal, unseal } from './crypto.ts';
export { MAX_PATH_LENGTH, MAX_VARIABLE_BYTES } from './validate.ts';
export { openVariables } from './open.ts';
export type { KeyringOptions } from './open.ts';
