-- The ledger, partitioned by day of event time (UTC), and narrower per event (docs/ledger.md).
--
-- Why event time, not record time: the duplicate check compares event times within
-- idempotency_window and a refund's purchase must lie within refund_window, so both lookups
-- name an event-time range and read only the partitions inside it; and retention "drops what
-- is older than LEDGER_RETENTION" is then a statement about the events themselves.
--
-- Upgrades in place: the existing rows are copied into the new table, in this migration's
-- transaction, which locks the ledger while it runs (plan a window for a large ledger; see docs/ledger.md).

CREATE TYPE ledger_event_type AS ENUM ('purchase', 'redeem', 'refund', 'adjust');
CREATE TYPE ledger_status AS ENUM ('applied', 'rejected', 'duplicate');

-- Each rules version once, instead of its 12-hex text in every ledger row.
CREATE TABLE rules_versions (
  id       integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  version  text    NOT NULL UNIQUE
);

ALTER TABLE point_transactions RENAME TO point_transactions_v1;
ALTER TABLE point_transactions_v1 DROP CONSTRAINT point_transactions_pkey;
DROP INDEX point_transactions_user_history;
DROP INDEX point_transactions_user_event;

-- Fixed-width columns first (no alignment padding). Gone from v1: topic (a database's ledger
-- serves one events topic; consumer_offsets keeps the topic), recorded_at, and the rules
-- version text (now an id into rules_versions).
CREATE TABLE point_transactions (
  event_time         timestamptz       NOT NULL,
  kafka_offset       bigint            NOT NULL,
  points             bigint            NOT NULL,
  balance_after      bigint            NOT NULL,
  partition          integer           NOT NULL,
  rules_version_id   integer           NOT NULL,
  event_type         ledger_event_type NOT NULL,
  status             ledger_status     NOT NULL,
  user_id            text              NOT NULL,
  event_id           text              NOT NULL,
  amount             numeric,
  original_event_id  text,
  reason             text
) PARTITION BY RANGE (event_time);

-- Creates the missing daily partitions for the UTC days from_day..to_day; returns how many.
-- CREATE + ATTACH (not CREATE ... PARTITION OF) because ATTACH takes only a SHARE UPDATE
-- EXCLUSIVE lock on the parent: flushes writing other days go on meanwhile. The advisory lock
-- makes engines (and actors) asking for the same day at once wait instead of racing.
CREATE FUNCTION ledger_ensure_partitions(from_day date, to_day date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  d date;
  name text;
  created integer := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('point_transactions partitions'));
  FOR d IN SELECT generate_series(from_day, to_day, interval '1 day')::date LOOP
    name := 'point_transactions_' || to_char(d, 'YYYYMMDD');
    IF to_regclass(name) IS NULL THEN
      EXECUTE format('CREATE TABLE %I (LIKE point_transactions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
      EXECUTE format('ALTER TABLE point_transactions ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                     name, to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
      created := created + 1;
    END IF;
  END LOOP;
  RETURN created;
END $$;

-- The existing rows, in partitions for the days they hold (not every day between them).
INSERT INTO rules_versions (version) SELECT DISTINCT rules_version FROM point_transactions_v1 ORDER BY 1;
DO $$
DECLARE d date;
BEGIN
  FOR d IN SELECT DISTINCT (event_time AT TIME ZONE 'UTC')::date FROM point_transactions_v1 LOOP
    PERFORM ledger_ensure_partitions(d, d);
  END LOOP;
END $$;
INSERT INTO point_transactions (event_time, kafka_offset, points, balance_after, partition, rules_version_id, event_type, status, user_id, event_id, amount, original_event_id, reason)
SELECT t.event_time, t.kafka_offset, t.points, t.balance_after, t.partition, r.id, t.event_type::ledger_event_type, t.status::ledger_status,
       t.user_id, t.event_id, t.amount, t.original_event_id, t.reason
FROM point_transactions_v1 t JOIN rules_versions r ON r.version = t.rules_version;
DROP TABLE point_transactions_v1;

-- Two indexes, built after the copy (faster than maintained row by row); partitions attached
-- later get them from the parent.
-- History (newest first per user) and the guard that an offset is never recorded twice: an
-- offset is one message, so a second row for it has the same user, partition and event time.
-- (A unique index on a partitioned table must include the partition key.)
CREATE UNIQUE INDEX point_transactions_history ON point_transactions (user_id, partition, kafka_offset DESC, event_time);
-- Duplicate ids and refunded purchases: a 64-bit hash of (user, event id) is 8 bytes per entry
-- where the two texts were 25+; queries compare the texts of what it finds.
CREATE INDEX point_transactions_event_key ON point_transactions (hashtextextended(user_id || '/' || event_id, 0)) WHERE status <> 'duplicate';
