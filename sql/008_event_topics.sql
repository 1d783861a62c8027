-- The Kafka topic that consumer_offsets' positions belong to, by the id Kafka gave it at creation
-- (KIP-516). A topic deleted and created again keeps its name but gets a new id, and its offsets
-- start again at 0: positions kept from the old topic would skip the new one's first messages as
-- "already applied". The engine records the id on its first start and refuses to consume a topic
-- whose id differs (src/store/topic-identity.ts).
CREATE TABLE event_topics (
  topic           text        PRIMARY KEY,
  kafka_topic_id  text        NOT NULL,
  recorded_at     timestamptz NOT NULL DEFAULT now()
);
