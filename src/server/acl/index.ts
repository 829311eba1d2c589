/** The server's ACL system: token resolution, bootstrap, policies and tokens. */
export { AclService } from './acl-service.ts';
export type { AclOptions, Identity, NewToken, TokenRequest } from './acl-service.ts';
