import pino, { type Logger } from 'pino';

/**
 * One logger shape for the main thread and the workers. Connection strings and tokens
 * are redacted wherever they appear in a logged object.
 */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { pid: process.pid, ...bindings },
    redact: {
      paths: ['databaseUrl', 'DATABASE_URL', '*.databaseUrl', '*.DATABASE_URL', 'password', '*.password', 'authorization', '*.authorization', 'token', '*.token'],
      censor: '[redacted]',
    },
  });
}

/** Strips credentials from a connection string before it is shown anywhere. */
export function redactConnectionString(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:[redacted]@');
}

export type { Logger };
