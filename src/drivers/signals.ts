import { constants } from 'node:os';

/** A signal of this host by name (`SIGHUP`, `hup`) or number (`1`); undefined when it has none such. */
export function hostSignal(name: string): NodeJS.Signals | undefined {
  const upper = name.trim().toUpperCase();
  const full = /^\d+$/.test(upper)
    ? Object.entries(constants.signals).find(([, n]) => n === Number(upper))?.[0]
    : upper.startsWith('SIG')
      ? upper
      : `SIG${upper}`;
  return full !== undefined && full in constants.signals ? (full as NodeJS.Signals) : undefined;
}

/** The error drivers throw for a signal name the host does not know. */
export function unknownSignal(taskName: string, signal: string): Error {
  return new Error(`Cannot signal task "${taskName}": "${signal}" is not a signal of this host: use a name such as SIGHUP or SIGUSR1`);
}
