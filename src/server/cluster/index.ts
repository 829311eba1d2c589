/** Several servers: the election and membership, the fence of the leader's writes, the loops only the leader runs. */
export { Leadership, NOT_LEADING, type LeadershipOptions, type ServerMember } from './leadership.ts';
export { fencedBackend } from './fenced-backend.ts';
export { LeaderLoops, type LeaderLoopsDeps } from './leader-loops.ts';
