/** The check runners agents use: http, tcp, script and gRPC probes, thresholds and transitions. */
export { CheckRunner, type CheckRunnerOptions } from './runner.ts';
export { probe, MAX_OUTPUT, type ProbeResult, type ProbeTarget } from './probe.ts';
export { grpcHealth, encodeHealthRequest, decodeHealthStatus } from './grpc.ts';
export { allocServices, checkIds, hostPort, instanceId, type AllocService } from './alloc-checks.ts';
