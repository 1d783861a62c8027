import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactConnectionString } from '../../../src/logging/logger.js';

function capture(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { stream, lines };
}

describe('logs never carry secrets', () => {
  it('redacts connection strings, passwords, tokens and authorization headers wherever they are logged', () => {
    const { stream, lines } = capture();
    const log = createLogger('info', {}, stream);
    log.info(
      {
        databaseUrl: 'postgres://app:s3cret@db/loyalty',
        password: 's3cret',
        token: 'tok-123',
        headers: { authorization: 'Bearer tok-123' },
      },
      'connecting',
    );
    log.info({ cfg: { DATABASE_URL: 'postgres://app:s3cret@db/loyalty', API_TOKEN: 'tok-123' } }, 'config');
    const out = lines.join('');
    expect(out).toContain('connecting');
    expect(out).toContain('config');
    expect(out).not.toContain('s3cret');
    expect(out).not.toContain('tok-123');
    expect(out).toContain('[redacted]');
  });

  it('strips the password from a connection string shown in a message', () => {
    expect(redactConnectionString('postgres://app:s3cret@db:5432/loyalty')).toBe(
      'postgres://app:[redacted]@db:5432/loyalty',
    );
    expect(redactConnectionString('postgres://app@db/loyalty')).toBe('postgres://app@db/loyalty');
  });
});
