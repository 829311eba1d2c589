/** Job specs: parsing (YAML, JSON), defaults, and validation with a path for every problem. */
export { parseJobSpec, type ParseOptions } from './parse.ts';
export { validateJob, type ParseResult } from './validate.ts';
export { toJob, type JobInput, type JobStamp } from './to-job.ts';
export { formatErrors } from './format.ts';
export { parseCpu, parseDuration, parseSize, type Parsed } from './units.ts';
export { DEFAULTS, RESTART_DEFAULTS, LIMITS } from './defaults.ts';
export { diffJobs, formatDiff } from './diff.ts';
export { checkSchedule, nextLaunch, nextLaunches, parseRepeating } from './schedule.ts';
export { ingressClaims, ingressConflicts, PRIVILEGED_BELOW, type IngressClaim } from './ingress.ts';
