import { constants, createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';

/** The archive file of a ledger partition: its rows as COPY text (the table's column order), gzip'd. */
export const archiveFileName = (partition: string): string => `${partition}.tsv.gz`;

/**
 * Writes a partition's rows to `dir`: COPY TO STDOUT through gzip into a temporary name, fsync'd,
 * renamed into place, the directory fsync'd. Only after this returns may the partition be dropped;
 * any failure (not writable, disk full) throws and leaves no file under the final name.
 * Restore: `gunzip -c FILE | psql -c "COPY point_transactions FROM STDIN"` (or into any table LIKE it).
 */
export async function archivePartition(
  client: pg.PoolClient,
  partition: string,
  dir: string,
): Promise<{ file: string; bytes: number }> {
  const file = path.join(dir, archiveFileName(partition));
  const tmp = path.join(dir, `.${archiveFileName(partition)}.${process.pid}.tmp`);
  try {
    const out = createWriteStream(tmp, { flags: 'wx' });
    await pipeline(client.query(copyTo(`COPY ${client.escapeIdentifier(partition)} TO STDOUT`)), createGzip(), out);
    const bytes = out.bytesWritten;
    const fh = await open(tmp, constants.O_RDONLY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    // The rename itself is durable only once the directory is.
    const dh = await open(dir, constants.O_RDONLY);
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
    return { file, bytes };
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}
