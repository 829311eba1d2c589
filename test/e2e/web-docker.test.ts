import type Docker from 'dockerode';
import { webScenario } from '../harness/web-scenario.ts';
import { withDockerEngine } from '../harness/dockerd.ts';
import { connectDocker } from '../../src/drivers/index.ts';

withDockerEngine('berth dev with the docker driver', (engine) => {
  const docker: Docker = connectDocker(engine.host);
  const containersOf = async (allocId: string): Promise<Docker.ContainerInfo[]> =>
    docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.alloc=${allocId}`] }) });
  webScenario(
    {
      driver: 'docker',
      dockerHost: engine.host,
      async kill(alloc) {
        const [c] = (await containersOf(alloc.id)).filter((c) => c.State === 'running');
        await docker.getContainer(c.Id).kill({ signal: 'SIGKILL' });
      },
      async leftovers(allocs) {
        const all = await Promise.all(allocs.map((a) => containersOf(a.id)));
        return all.flat().map((c) => `${c.Names[0]} (${c.State})`);
      },
      async taskId(alloc) {
        const running = (await containersOf(alloc.id)).filter((c) => c.State === 'running');
        if (running.length !== 1) throw new Error(`expected one running container for ${alloc.id}, found ${running.length}`);
        return running[0].Id;
      },
    },
    'web-docker.yaml',
  );
});
