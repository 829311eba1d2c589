import type { CheckStatus } from '../../model/index.ts';

/** What one run of a check found. */
export interface ProbeResult {
  status: CheckStatus;
  output: string;
}
