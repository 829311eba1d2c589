/** ACLs: policy documents, the compiled authorizer, token secrets. Pure but for hashing. */
export { CAPABILITIES, IMPLIED, PREFIX_SCOPES, parsePolicy, validPolicyName } from './policy.ts';
export type { PolicyDocument } from './policy.ts';
export { ALLOW_ALL, DENY_ALL, compileAuthorizer } from './authorizer.ts';
export type { Authorizer } from './authorizer.ts';
export { ANONYMOUS_ACCESSOR, hashSecret, newSecret, tokenView } from './token.ts';
export type { AclTokenView } from './token.ts';
