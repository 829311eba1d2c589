/** The closed set of error codes. `api/` maps each to an HTTP status. */
export type ErrorCode =
  | 'invalid_input'
  | 'unauthorized'
  | 'not_found'
  | 'conflict'
  | 'forbidden'
  | 'rate_limited'
  | 'unavailable'
  | 'timeout'
  | 'internal';

/** One problem with an input, located by its path (`groups[0].tasks[1].resources.memory`). */
export interface ErrorDetail {
  path: string;
  message: string;
}

/** The one error type berth throws on purpose. Anything else is a bug. */
export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[];

  constructor(code: ErrorCode, message: string, details: ErrorDetail[] = []) {
    super(message);
    this.name = 'BerthError';
    this.code = code;
    this.details = details;
  }

  /** The wire shape of ARCHITECTURE.md: `{error: {code, message, details}}`. */
  toJSON(): { error: { code: ErrorCode; message: string; details: ErrorDetail[] } } {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

/** True for a BerthError, optionally of one code. */
export function isBerthError(err: unknown, code?: ErrorCode): err is BerthError {
  return err instanceof BerthError && (code === undefined || err.code === code);
}
