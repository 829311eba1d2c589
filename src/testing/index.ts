/** Test helpers: the scheduler harness and factories of valid model objects. Imported by tests only. */
export { SchedulerHarness, type HarnessOptions, type RunResult } from './harness.ts';
export { mockAlloc, mockAllocFor, mockEval, mockGroup, mockJob, mockNode, mockTask } from './factories.ts';
export { TEST_IMAGE, dockerTestEngine, requireDocker, withDockerEngine, type DockerTestEngine } from './docker-engine.ts';
