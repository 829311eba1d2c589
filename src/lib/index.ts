/** Generic helpers with no domain knowledge. */
export { systemClock } from './clock.ts';
export { ControlLoop } from './control-loop.ts';
export type { ControlLoopOptions, ControlLoopPass } from './control-loop.ts';
export { Controller } from './controller.ts';
export type { ControllerOptions } from './controller.ts';
export type { Clock, Timer } from './clock.ts';
export { backoffDelay } from './backoff.ts';
export type { BackoffOptions } from './backoff.ts';
export { newId, shortId } from './ids.ts';
export { createLogger, silentLogger } from './logger.ts';
export type { Logger, LoggerOptions } from './logger.ts';
export { openDatabase, pragmaValue, transaction } from './sqlite.ts';
export type { DatabaseSync, SQLInputValue, StatementSync, Transaction } from './sqlite.ts';
export { checkRequest, hostnameOf, isAnyAddress, isLoopback, originOf } from './request-policy.ts';
export type { RequestHeaders, RequestPolicy, RequestVerdict } from './request-policy.ts';
export { timeCalls } from './timed-calls.ts';
