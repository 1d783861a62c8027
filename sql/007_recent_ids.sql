-- Each user's recent event ids, in the balance row (docs/ledger.md, "Recent ids"): a compact summary
-- that answers most duplicate checks without reading the ledger. recent_ids holds 4-byte entries,
-- big-endian ((UTC day of the row's event time - recent_from) << 24) | (hashtext(user_id || '/' || event_id) & 16777215),
-- one for every ledger row of the user that a duplicate check can find whose day is at least recent_from.
-- A match in the window (or a window reaching before recent_from) is checked in the ledger; no match
-- means no earlier occurrence. NULL recent_from (every user before this migration): the engine builds the
-- summary from the ledger when it first loads the user.
ALTER TABLE balances ADD COLUMN recent_from integer;
ALTER TABLE balances ADD COLUMN recent_ids bytea NOT NULL DEFAULT ''::bytea;
