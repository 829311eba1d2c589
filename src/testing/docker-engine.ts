/**
 * Which Docker engine a test runs against: the one the test runner started (`BERTH_TEST_DOCKER_HOST`,
 * `BERTH_TEST_IMAGE`), or none, and then the test is skipped, except under CI where a missing
 * engine fails. Starting that engine is test/harness/dockerd.ts's job; this only reads the
 * environment, so the driver's own tests under src/ need no end-to-end harness.
 */
import { describe, it, type TestContext } from 'node:test';

/** The image tests run: a busybox root filesystem imported locally (there is no registry here). */
export const TEST_IMAGE = 'berth-test/busybox:latest';

/** The engine tests should use, from `BERTH_TEST_DOCKER_HOST` and `BERTH_TEST_IMAGE`. */
export interface DockerTestEngine {
  host: string;
  image: string;
}

const MISSING_ENGINE =
  'BERTH_TEST_DOCKER_HOST is not set: run the tests through the test runner, which starts a private dockerd, ' +
  'or start one with `node --import tsx test/harness/start-dockerd.ts` and export the host and image it prints ' +
  'as BERTH_TEST_DOCKER_HOST and BERTH_TEST_IMAGE';

/**
 * The engine for Docker tests, or null when there is none and the tests should be skipped.
 * Under CI (`CI=true`) a missing engine is an error instead, so Docker tests never silently vanish.
 */
export function dockerTestEngine(): DockerTestEngine | null {
  const host = process.env.BERTH_TEST_DOCKER_HOST;
  if (host) return { host, image: process.env.BERTH_TEST_IMAGE || TEST_IMAGE };
  if (process.env.CI === 'true') throw new Error(`Cannot run the Docker tests: ${MISSING_ENGINE}`);
  return null;
}

/**
 * Declare the suites of a file that needs Docker: `body` runs with the engine; without one, a
 * suite named `suite` holds one skipped test that says so (under CI `dockerTestEngine` throws).
 */
export function withDockerEngine(suite: string, body: (engine: DockerTestEngine) => void): void {
  const engine = dockerTestEngine();
  if (engine) return body(engine);
  describe(suite, () => {
    it('needs a Docker engine', (t) => t.skip(`no Docker engine: ${MISSING_ENGINE}`));
  });
}

/**
 * For a test that needs Docker: the engine, or undefined after marking the test skipped (the
 * test should then return). Fails the test under CI, see `dockerTestEngine`.
 */
export function requireDocker(t: TestContext): DockerTestEngine | undefined {
  const engine = dockerTestEngine();
  if (engine) return engine;
  t.skip(`no Docker engine: ${MISSING_ENGINE}`);
  return undefined;
}
