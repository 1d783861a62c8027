-- Points lifecycle: a flush may expire a backlog of due lots without applying an event
-- (docs/lifecycle.md, "When expiry runs"), so it stores no new next_offset and the offset alone
-- cannot fence it. Every lifecycle flush checks this count in its fence and adds one: a stale owner
-- (or a new owner that loaded users before such a flush) is fenced like by a moved offset.
ALTER TABLE consumer_offsets ADD COLUMN lifecycle_seq bigint NOT NULL DEFAULT 0;
