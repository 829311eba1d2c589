/** Jobs: registration, versions, stop, scale, revert, the read models, `job plan`, and the deployment a registration writes. */
export { JobService, specChanged, summarize, jobStatus, liveAllocs, VERSIONS_KEPT, type JobSpec } from './job-service.ts';
export { planJob } from './plan-dry-run.ts';
export { isActive, newDeployment, cancelActive, deploymentWrites } from './deployment-writes.ts';
export { checkIngress, ingressNodes, INGRESS_META } from './ingress-check.ts';
export { ingressStatus, ingressIndex } from './ingress-status.ts';
