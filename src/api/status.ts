import type { ErrorCode } from '../model/index.ts';

/** The one table that maps error codes to HTTP statuses, used by the server and the client. */
export const httpStatusOf: Record<ErrorCode, number> = {
  invalid_input: 400,
  unauthorized: 401,
  forbidden: 403,
  rate_limited: 429,
  not_found: 404,
  conflict: 409,
  timeout: 504,
  unavailable: 503,
  internal: 500,
};

/** The error code for an HTTP status the client received without a berth error body. */
export function codeOfHttpStatus(status: number): ErrorCode {
  for (const [code, s] of Object.entries(httpStatusOf) as [ErrorCode, number][]) if (s === status) return code;
  if (status === 413 || status === 415 || (status >= 400 && status < 500)) return 'invalid_input';
  return 'internal';
}
