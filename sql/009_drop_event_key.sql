-- The ledger keeps one index: history (user, partition, offset desc, event time). The event-key index
-- (sql/003) served the id lookups the recent-ids summary cannot answer (sql/007: a possible repeat, a
-- refunded purchase); they now read the asked users' rows through the history index, on the days the
-- summary names. Every row paid for the key index at insert, 4-6 us a row on a day's partition of 4M
-- rows (bench/ledger-insert-cost.ts), while a 40 s steady state at 27k events/s asked 531 lookups
-- against 2,729 flushes of about 400 rows (docs/performance.md; docs/ledger.md, "What a row costs").
DROP INDEX IF EXISTS point_transactions_event_key;
