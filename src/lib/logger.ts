import { pino, type Logger as PinoLogger } from 'pino';

/** The logger every layer takes: pino's interface. */
export type Logger = PinoLogger;

/** Logger settings from flags, env or config. */
export interface LoggerOptions {
  /** trace | debug | info | warn | error | silent. Default info. */
  level?: string;
  /** json (one object a line) or text (for people). Default text on a terminal, json otherwise. */
  format?: 'json' | 'text';
  /** Where to write. Default stderr. */
  destination?: number;
}

/** Make the process logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const format = options.format ?? (process.stderr.isTTY ? 'text' : 'json');
  const fd = options.destination ?? 2;
  if (format === 'text') {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { destination: fd, colorize: process.stderr.isTTY, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' } },
    });
  }
  return pino({ level, base: undefined }, pino.destination({ fd, sync: false }));
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
