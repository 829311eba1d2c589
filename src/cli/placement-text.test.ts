import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Allocation, PlacementFailure } from '../model/index.ts';
import { describeFailures, shortfallText, size, unplaceableText } from './placement-text.ts';
import { failedAllocText } from './progress.ts';

const failure: PlacementFailure = {
  group: 'big',
  missing: 1,
  nodesEvaluated: 1,
  filtered: { 'memory exhausted': 1 },
  exhausted: { memory: 1 },
  shortfall: { memory: { ask: 100_000 * 1024, mostFree: 24_064, nodeId: 'n1', nodeName: 'dev' } },
};

describe('placement failure text', () => {
  it('writes sizes as specs do: MiB below a GiB, GiB with one decimal above', () => {
    assert.equal(size(512), '512 MiB');
    assert.equal(size(1024), '1 GiB');
    assert.equal(size(24_064), '23.5 GiB');
  });

  it('says what one allocation asks against the most free on any node, per dimension', () => {
    assert.equal(shortfallText('memory', failure.shortfall!.memory), 'asks 100000 GiB memory; the most free on any node is 23.5 GiB (node dev)');
    assert.equal(shortfallText('cpu', { ask: 2000, mostFree: 250, nodeId: 'n', nodeName: 'slow' }), 'asks 2 cpu; the most free on any node is 0.25 cpu (node slow)');
    assert.equal(shortfallText('ports', { ask: 1, mostFree: 0, nodeId: 'n', nodeName: 'a' }), 'asks 1 dynamic port; the most free on any node is 0 ports (node a)');
  });

  it('tells job run that the job stays registered, waits for capacity, and how to stop it', () => {
    const text = unplaceableText('huge', [failure]);
    assert.equal(
      text,
      [
        'Cannot place job "huge": cannot place 1 allocation of group "big": 1 node evaluated; memory exhausted on 1 node',
        '  asks 100000 GiB memory; the most free on any node is 23.5 GiB (node dev)',
        'The job stays registered (pending): its allocations are placed when capacity appears (a node joins, or room is freed).',
        'To remove it: berth job stop huge',
      ].join('\n'),
    );
    assert.doesNotMatch(describeFailures([{ ...failure, shortfall: undefined }]), /asks/);
  });
});

describe('a failed allocation in its tasks\' words', () => {
  it('shows the driver failure behind "Not Restarting" and where to see more', () => {
    const alloc = {
      id: '7ca6824b-0000-0000-0000-000000000000',
      name: 'web.web[0]',
      clientStatus: 'failed',
      clientDescription: 'task "server" failed',
      taskStates: {
        server: {
          state: 'dead',
          failed: true,
          restarts: 2,
          events: [
            { time: 1, type: 'Driver Failure', message: 'image "busybox:nope" is not on this host and no registry answered' },
            { time: 2, type: 'Restarting', message: 'restart 1 of 2; in 15s' },
            { time: 3, type: 'Driver Failure', message: 'image "busybox:nope" is not on this host and no registry answered' },
            { time: 4, type: 'Not Restarting', message: 'exceeded 2 restarts within 1800s' },
          ],
        },
      },
    } as unknown as Allocation;
    assert.equal(
      failedAllocText(alloc),
      [
        'Allocation 7ca6824b (web.web[0]) failed: task "server" failed',
        '  task "server": Driver Failure: image "busybox:nope" is not on this host and no registry answered',
        '  task "server": Not Restarting: exceeded 2 restarts within 1800s',
        'See more: berth alloc status 7ca6824b',
      ].join('\n'),
    );
  });
});
