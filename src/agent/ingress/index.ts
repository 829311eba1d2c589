/** The node's ingress (`berth agent --ingress`): routes and healthy instances from the servers, carried by a data path. */
export { followIngress, type IngressFollowOptions } from './follow.ts';
export { ingressPlan, formatAddress, type IngressPlan, type ListenAddress } from './ingress-plan.ts';
export type { IngressDataPath } from './data-path.ts';
export { BuiltinIngress } from './builtin.ts';
export { HaproxyIngress } from './haproxy.ts';
export { ingressNodeMeta, makeDataPath, type IngressSettings } from './settings.ts';
