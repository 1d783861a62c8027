import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PRODUCTION_SETTINGS,
  stopTunedPostgres,
  tunedPostgres,
  tunedPostgresRunning,
} from '../../tools/stack/postgres-server.js';

/** The soak's Postgres (README, "Postgres settings"): the settings it reports are the ones the server runs with. */
describe('the tuned private cluster', () => {
  // Left as found: a run of the tests does not leave a 4 GB server behind, nor stop a soak's.
  let wasRunning = false;
  beforeAll(() => {
    wasRunning = tunedPostgresRunning(process.env);
  });
  afterAll(() => {
    if (!wasRunning) stopTunedPostgres(process.env, () => undefined);
  });

  it('runs with every production setting, and is reused, not restarted, when it already does', async () => {
    const url = await tunedPostgres(process.env, () => undefined);
    const read = async (): Promise<{ settings: Record<string, string>; started: string }> => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        // Durability is not among the settings changed: it must stay on.
        const names = [...Object.keys(PRODUCTION_SETTINGS), 'fsync', 'full_page_writes', 'synchronous_commit'];
        const r = await c.query<{ name: string; setting: string }>(
          'SELECT name, current_setting(name) AS setting FROM unnest($1::text[]) AS name',
          [names],
        );
        const started = await c.query<{ t: string }>('SELECT pg_postmaster_start_time()::text AS t');
        return { settings: Object.fromEntries(r.rows.map((x) => [x.name, x.setting])), started: started.rows[0]!.t };
      } finally {
        await c.end();
      }
    };
    const first = await read();
    expect(first.settings).toEqual({
      ...PRODUCTION_SETTINGS,
      fsync: 'on',
      full_page_writes: 'on',
      synchronous_commit: 'on',
    });
    expect(await tunedPostgres(process.env, () => undefined)).toBe(url);
    expect((await read()).started).toBe(first.started);
    expect(tunedPostgresRunning(process.env)).toBe(true);
  }, 120_000);
});
