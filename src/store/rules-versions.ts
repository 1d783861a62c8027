import type pg from 'pg';

/** Ids of rules versions known to this thread: a ledger row holds the 4-byte id, not the version text. */
const ids = new Map<string, number>();

/** The id of a rules version in rules_versions, inserted on first use. */
export async function rulesVersionId(db: pg.Pool, version: string): Promise<number> {
  const cached = ids.get(version);
  if (cached !== undefined) return cached;
  // Insert-or-read in one statement; concurrent first uses by several threads meet on the unique key.
  const r = await db.query<{ id: number }>(
    `WITH ins AS (INSERT INTO rules_versions (version) VALUES ($1) ON CONFLICT (version) DO NOTHING RETURNING id)
     SELECT id FROM ins UNION ALL SELECT id FROM rules_versions WHERE version = $1 LIMIT 1`,
    [version],
  );
  // Empty when another session inserted the version first and committed while this one waited on the key: the
  // statement's snapshot predates that commit. A new statement sees it (every first start of several threads).
  const id =
    r.rows[0]?.id ??
    (await db.query<{ id: number }>('SELECT id FROM rules_versions WHERE version = $1', [version])).rows[0]?.id;
  if (id === undefined) throw new Error(`rules version ${version} could not be recorded`);
  ids.set(version, id);
  return id;
}
