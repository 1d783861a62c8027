import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { postgresErrorFields } from '../../src/errors.js';

describe('postgresErrorFields', () => {
  it("keeps Postgres' SQLSTATE and detail, which the message alone does not carry", () => {
    // As node-postgres raises it for a ledger row on a day without a partition.
    const e = new pg.DatabaseError('no partition of relation "point_transactions" found for row', 0, 'error');
    e.code = '23514';
    e.detail = 'Partition key of the failing row contains (event_time) = (2026-09-20 10:00:00+00).';
    expect(postgresErrorFields(e)).toEqual({ code: '23514', detail: e.detail });
  });

  it('adds nothing for other errors', () => {
    expect(postgresErrorFields(new Error('socket hang up'))).toEqual({});
    expect(postgresErrorFields('text')).toEqual({});
    expect(postgresErrorFields(null)).toEqual({});
  });
});
