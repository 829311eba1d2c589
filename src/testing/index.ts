/**
 * Test helpers: the scheduler harness, factories of valid model objects, a real etcd on loopback and
 * the state backends the HTTP suites run on, which Docker engine a test uses. Imported by tests (and bench/kv.ts, for etcd) only.
 */
export { SchedulerHarness, type HarnessOptions, type RunResult } from './harness.ts';
export { mockAlloc, mockAllocFor, mockEval, mockGroup, mockJob, mockNode, mockTask } from './factories.ts';
export { startEtcd, etcdSkipReason, etcdTestAvailable, requireEtcd, type EtcdCluster, type StartEtcdOptions } from './etcd.ts';
export { testBackends, type TestBackend } from './state-backends.ts';
export { TEST_IMAGE, dockerTestEngine, requireDocker, withDockerEngine, type DockerTestEngine } from './docker-engine.ts';
export { FakeClock } from './fake-clock.ts';
export { freePort, freePorts } from './ports.ts';
