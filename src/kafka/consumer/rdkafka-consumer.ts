import { KafkaConsumer, CODES, type Message, type LibrdKafkaError } from '../library.js';

export interface Assignment {
  topic: string;
  partition: number;
  offset?: number;
}

/** The slice of librdkafka's consumer the engine uses, typed (the package's types lack the cooperative calls). */
export interface RdConsumer {
  connect(opts: object, cb: (err: LibrdKafkaError | null) => void): void;
  subscribe(topics: string[]): void;
  consume(n: number, cb: (err: LibrdKafkaError | null, messages: Message[]) => void): void;
  setDefaultConsumeTimeout(ms: number): void;
  /** true: consume(n) waits the timeout for the first message only, then returns what is ready. */
  setDefaultIsTimeoutOnlyForFirstMessage(only: boolean): void;
  incrementalAssign(a: Assignment[]): void;
  incrementalUnassign(a: Assignment[]): void;
  assignmentLost(): boolean;
  pause(a: Assignment[]): void;
  resume(a: Assignment[]): void;
  seek(a: Required<Assignment>, timeout: number, cb: (err: LibrdKafkaError | null) => void): void;
  commit(a: Required<Assignment>[]): void;
  getWatermarkOffsets(topic: string, partition: number): { highOffset: number; lowOffset: number };
  queryWatermarkOffsets(
    topic: string,
    partition: number,
    timeout: number,
    cb: (err: LibrdKafkaError | null, offsets?: { highOffset: number; lowOffset: number }) => void,
  ): void;
  disconnect(cb: (err: unknown) => void): void;
  isConnected(): boolean;
  on(event: 'event.error', cb: (err: LibrdKafkaError) => void): void;
}

export type RebalanceHandler = (kind: 'assign' | 'revoke', partitions: Assignment[]) => void;

export const ERR_ASSIGN = CODES.ERRORS.ERR__ASSIGN_PARTITIONS;
export const ERR_REVOKE = CODES.ERRORS.ERR__REVOKE_PARTITIONS;

export interface ConsumerSettings {
  brokers: string;
  groupId: string;
  clientId: string;
  sessionTimeoutMs: number;
  maxMessageBytes: number;
  /** Static membership (KAFKA_GROUP_INSTANCE_ID); absent: a dynamic member. */
  groupInstanceId?: string;
}

/** How the engine fetches; the benchmark's no-processing baseline uses the same. */
export const FETCH_SETTINGS = {
  // Large fetches amortise round trips; oversized single messages still arrive (and are dead-lettered).
  'fetch.min.bytes': 1,
  'fetch.wait.max.ms': 50,
  // Per partition: bounds memory with many partitions assigned (12 x 8 MiB), while keeping fetches large.
  'queued.max.messages.kbytes': 8192,
} as const;

export function createRdConsumer(s: ConsumerSettings, onRebalance: RebalanceHandler): RdConsumer {
  const consumer = new KafkaConsumer(
    {
      'bootstrap.servers': s.brokers,
      'group.id': s.groupId,
      'client.id': s.clientId,
      ...(s.groupInstanceId === undefined ? {} : { 'group.instance.id': s.groupInstanceId }),
      'partition.assignment.strategy': 'cooperative-sticky',
      // Positions live in Postgres; Kafka's committed offsets are written after each flush only for lag tools.
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'session.timeout.ms': s.sessionTimeoutMs,
      'heartbeat.interval.ms': Math.max(500, Math.floor(s.sessionTimeoutMs / 5)),
      'max.poll.interval.ms': 300_000,
      ...FETCH_SETTINGS,
      rebalance_cb: (err: LibrdKafkaError, assignment: Assignment[]) => {
        if (err.code === ERR_ASSIGN) onRebalance('assign', assignment);
        else if (err.code === ERR_REVOKE) onRebalance('revoke', assignment);
      },
    },
    // Positions come from Postgres; one Kafka no longer holds must be noticed, not skipped to the earliest.
    { 'auto.offset.reset': 'error' },
  );
  return consumer as unknown as RdConsumer;
}

/** A fetch position Kafka no longer (or never) held, with auto.offset.reset "error": see resumePastDeleted. */
export function isOffsetResetError(e: unknown): boolean {
  return hasCode(e, CODES.ERRORS.ERR__AUTO_OFFSET_RESET);
}

/** librdkafka's "fatal error" state: the client is unusable from then on (a fenced static member, for one). */
export function isFatalError(e: unknown): boolean {
  return hasCode(e, CODES.ERRORS.ERR__FATAL);
}

function hasCode(e: unknown, code: number): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

export function consumeBatch(c: RdConsumer, n: number): Promise<Message[]> {
  return new Promise((resolve, reject) => {
    c.consume(n, (err, messages) => (err ? reject(err) : resolve(messages)));
  });
}
