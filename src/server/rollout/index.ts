/** Rollouts: the deployment watcher (leader), the health of new allocations, operators' actions on a deployment. */
export { DeploymentWatcher, type DeploymentWatcherOptions } from './deployment-watcher.ts';
export { actOnDeployment, findDeployment, setAllocHealth, type DeploymentAction } from './deployment-actions.ts';
export { judge, looksHealthy, type HealthSubject } from './deployment-health.ts';
