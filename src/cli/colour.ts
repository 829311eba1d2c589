/**
 * Colour for people at a terminal, never for pipes and files: on only when the stream is a TTY,
 * `NO_COLOR` is unset or empty (no-color.org), `TERM` is not `dumb`, and `--no-color` was not given.
 * node:util's styleText does the escapes; the decision is made here, the same on every Node version.
 */
import { styleText } from 'node:util';

/** The styles the CLI uses. */
export type Style = 'red' | 'green' | 'yellow' | 'dim' | 'bold' | 'cyan' | 'magenta' | 'blue';

let forcedOff = false;

/** `--no-color`: no colour for the rest of the run. */
export function disableColour(): void {
  forcedOff = true;
}

/** Whether text written to `stream` gets colour. */
export function colourOn(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (forcedOff) return false;
  if (process.env.NO_COLOR) return false;
  if (process.env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

/** `text` in `style` when `stream` gets colour, else as it is. */
export function paint(style: Style, text: string, stream: NodeJS.WriteStream = process.stdout): string {
  if (!colourOn(stream)) return text;
  // validateStream: false, because the decision above is ours (Node 22+ would check stdout itself).
  const style3 = styleText as (format: Style, text: string, options?: { validateStream?: boolean }) => string;
  return style3(style, text, { validateStream: false });
}

/** The colour a status word is shown in: good green, bad red, waiting yellow. */
export function statusStyle(status: string): Style | undefined {
  if (['running', 'ready', 'successful', 'complete', 'passing', 'eligible', 'healthy'].includes(status)) return 'green';
  if (['failed', 'lost', 'down', 'dead', 'critical', 'unhealthy', 'ineligible'].includes(status)) return 'red';
  if (['pending', 'initializing', 'blocked', 'paused', 'warning', 'draining'].includes(status)) return 'yellow';
  return undefined;
}
