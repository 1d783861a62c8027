import pino, { type Logger } from 'pino';

/**
 * One logger shape for the main thread and the workers. Connection strings and tokens
 * are redacted wherever they appear in a logged object.
 */
export function createLogger(
  level: string,
  bindings: Record<string, unknown> = {},
  destination?: pino.DestinationStream,
): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { pid: process.pid, ...bindings },
    redact: {
      paths: [
        'databaseUrl',
        'DATABASE_URL',
        '*.databaseUrl',
        '*.DATABASE_URL',
        'password',
        '*.password',
        'authorization',
        '*.authorization',
        'token',
        '*.token',
        'API_TOKEN',
        '*.API_TOKEN',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Strips credentials from a connection string before it is shown anywhere. */
export function redactConnectionString(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:[redacted]@');
}

export type { Logger };
