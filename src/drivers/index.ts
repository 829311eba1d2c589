/**
 * The drivers layer: the TaskDriver interface the agent runs tasks through, and its three
 * implementations. The contract suite every driver passes is in `contract.test-suite.ts`,
 * imported by tests directly.
 */
export type {
  DriverLogger,
  ExecRequest,
  ExecSession,
  ExitResult,
  LogChunk,
  LogOptions,
  TaskDriver,
  TaskHandle,
  TaskStartRequest,
} from './driver.ts';
export { DockerDriver, type DockerDriverOptions } from './docker/docker-driver.ts';
// The Engine API connection the docker driver uses: tests and benchmarks inspect containers and
// load images through it rather than through a second client set up their own way.
export { DEFAULT_DOCKER_HOST, connectDocker, defaultDockerHost, dockerMessage, dockerStatus, dockerTlsFromEnv, readProgress } from './docker/docker-host.ts';
export type { ConnectDockerOptions, DockerTlsFiles } from './docker/docker-host.ts';
export { buildImage, type BuildRequest } from './docker/build-image.ts';
export { TASK_DIR_MOUNTS } from './docker/container-spec.ts';
export { ProcessDriver, type ProcessDriverOptions } from './process/process-driver.ts';
export { MockDriver, mockDrivers, type MockDriverOptions } from './mock/mock-driver.ts';
export { MockMachine, type MockTask } from './mock/mock-machine.ts';
