-- Refunds name the purchase they take back from, and a repeated event id must be found
-- quickly: the ledger keeps each event's amount and original, indexed by (user, event id).
ALTER TABLE point_transactions ADD COLUMN amount numeric;
ALTER TABLE point_transactions ADD COLUMN original_event_id text;
CREATE INDEX point_transactions_user_event ON point_transactions (user_id, event_id);

-- What has been refunded of each purchase so far (absolute values, written by the
-- partition's owner under the same fence as the balances).
CREATE TABLE purchase_refunds (
  user_id          text    NOT NULL,
  event_id         text    NOT NULL,
  amount_refunded  numeric NOT NULL,
  points_refunded  bigint  NOT NULL,
  PRIMARY KEY (user_id, event_id)
);
