-- Points lifecycle (config/rules.schema.md, "Points lifecycle"; docs/lifecycle.md): open lots per
-- user, each partition's clock, and `expire` ledger rows. Unused (empty) without a `lifecycle:` block.

-- Expiry writes ledger rows of its own: one per user and expiry moment. (A new enum value cannot be
-- used in the transaction that adds it; nothing here uses it.)
ALTER TYPE ledger_event_type ADD VALUE IF NOT EXISTS 'expire';

-- The partition's clock: the largest event (or tick) time applied, committed with next_offset in the
-- same flush transaction, so a new owner resumes position and "now" together. NULL: never recorded.
ALTER TABLE consumer_offsets ADD COLUMN clock timestamptz;

-- Lots holding points, only while they hold some (a spent or expired lot's row is deleted). Written
-- by the partition's owner under the offset fence, like balances. Debt is not stored: it is
-- sum(remaining) - balances.points. A lot that never expires has expires_at 'infinity'.
CREATE TABLE point_lots (
  user_id       text        NOT NULL,
  available_at  timestamptz NOT NULL,
  expires_at    timestamptz NOT NULL,
  remaining     bigint      NOT NULL CHECK (remaining > 0),
  -- The Kafka partition owning the user: the flush expires the lots of users it does not hold in memory
  -- with one range scan of its own partition.
  partition     integer     NOT NULL,
  PRIMARY KEY (user_id, available_at, expires_at)
);
CREATE INDEX point_lots_expiry ON point_lots (partition, expires_at);
