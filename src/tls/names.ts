/** Whom a certificate is for: a server, an agent (Nomad's "client") or the CLI. */
export type CertRole = 'server' | 'client' | 'cli';

/** The region certificates name when none is given, as Nomad's `global`. */
export const DEFAULT_REGION = 'global';

/** The name a certificate of `role` carries and peers verify: `server.global.berth`. */
export function roleName(role: CertRole, region: string = DEFAULT_REGION): string {
  return `${role}.${region}.berth`;
}
