-- Balances, the ledger, partition positions and dead letters.
-- Applied by the engine at start (src/store/migrations.ts), once, inside a transaction.

CREATE TABLE balances (
  user_id          text        PRIMARY KEY,
  points           bigint      NOT NULL DEFAULT 0,
  -- Points ever earned; tiers use it, redeems never lower it.
  lifetime_earned  bigint      NOT NULL DEFAULT 0,
  -- Points earned on earned_day (the event's local calendar day), for per-day caps.
  earned_day       integer     NOT NULL DEFAULT 0,
  earned_today     bigint      NOT NULL DEFAULT 0,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  -- Position of the last event applied: lets a reader say "as of partition p, offset o".
  last_partition   integer     NOT NULL,
  last_offset      bigint      NOT NULL
);

-- The next offset to consume per partition. It advances in the same transaction as
-- the balances it produced, and only from the value the writer expects (fencing).
CREATE TABLE consumer_offsets (
  topic        text        NOT NULL,
  partition    integer     NOT NULL,
  next_offset  bigint      NOT NULL,
  owner        text,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, partition)
);

-- One row per applied, rejected or duplicate event. The primary key makes counting an
-- event twice impossible rather than merely unlikely.
CREATE TABLE point_transactions (
  topic          text        NOT NULL,
  partition      integer     NOT NULL,
  kafka_offset   bigint      NOT NULL,
  event_id       text        NOT NULL,
  user_id        text        NOT NULL,
  event_type     text        NOT NULL,
  points         bigint      NOT NULL,
  balance_after  bigint      NOT NULL,
  status         text        NOT NULL CHECK (status IN ('applied', 'rejected', 'duplicate')),
  reason         text,
  event_time     timestamptz NOT NULL,
  rules_version  text        NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, partition, kafka_offset)
);
CREATE INDEX point_transactions_user_history ON point_transactions (user_id, partition, kafka_offset DESC);

-- Messages that could not be events, kept with their bytes. Written in the flush
-- transaction (so none is lost), then relayed to the dead-letter topic (outbox).
CREATE TABLE dead_letters (
  topic          text        NOT NULL,
  partition      integer     NOT NULL,
  kafka_offset   bigint      NOT NULL,
  reason         text        NOT NULL,
  detail         text        NOT NULL,
  message_key    bytea,
  message_value  bytea,
  recorded_at    timestamptz NOT NULL DEFAULT now(),
  published_at   timestamptz,
  PRIMARY KEY (topic, partition, kafka_offset)
);
CREATE INDEX dead_letters_unpublished ON dead_letters (topic) WHERE published_at IS NULL;
