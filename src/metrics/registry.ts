import client from 'prom-client';
import { GIVE_UP_REASONS } from '../actors/recent-ids.js';

/**
 * Every metric the engine exposes, in one registry. Names carry the `loyalty_` prefix and
 * base units; labels never carry user ids (unbounded cardinality). Worker threads report
 * counts in their task results and the main thread records them here.
 */
export function createMetrics(): EngineMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  // Each partition's lifecycle clock (ms), as its actor last reported it: the lag is taken at scrape time.
  const partitionClocks = new Map<string, number>();
  const m = {
    registry,
    consumerLag: new client.Gauge({
      name: 'loyalty_consumer_lag',
      help: 'High watermark minus the next offset committed in Postgres, per partition',
      labelNames: ['topic', 'partition'],
      registers: [registry],
    }),
    flushDuration: new client.Histogram({
      name: 'loyalty_flush_duration_seconds',
      help: 'Time of one flush transaction (COPY, merge, ledger, offset)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    flushBatch: new client.Histogram({
      name: 'loyalty_flush_batch_events',
      help: 'Events committed by one flush',
      buckets: [1, 10, 100, 500, 1000, 5000, 10000, 20000, 50000, 100000],
      registers: [registry],
    }),
    events: new client.Counter({
      name: 'loyalty_events_total',
      help: 'Events by type and outcome',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    }),
    deadLetters: new client.Counter({
      name: 'loyalty_dead_letters_total',
      help: 'Messages sent to the dead letters, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    deadLettersPublished: new client.Counter({
      name: 'loyalty_dead_letters_published_total',
      help: 'Dead letters relayed to the dead-letter topic',
      registers: [registry],
    }),
    rebalances: new client.Counter({
      name: 'loyalty_rebalances_total',
      help: 'Rebalance callbacks by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    assignedPartitions: new client.Gauge({
      name: 'loyalty_assigned_partitions',
      help: 'Partitions this engine owns',
      registers: [registry],
    }),
    queueDepth: new client.Gauge({
      name: 'loyalty_actor_queue_depth',
      help: 'Events consumed but not yet committed, per partition actor',
      labelNames: ['partition'],
      registers: [registry],
    }),
    flushConflicts: new client.Counter({
      name: 'loyalty_flush_conflicts_total',
      help: 'Flushes refused because another owner advanced the stored offset',
      registers: [registry],
    }),
    actorResets: new client.Counter({
      name: 'loyalty_actor_resets_total',
      help: 'Partition actors reopened from Postgres (fence, worker loss, error)',
      labelNames: ['cause'],
      registers: [registry],
    }),
    httpDuration: new client.Histogram({
      name: 'loyalty_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['route', 'status'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    rulesInfo: new client.Gauge({
      name: 'loyalty_rules_info',
      help: 'Rules version in force (content hash)',
      labelNames: ['version'],
      registers: [registry],
    }),
    rulesReloadFailures: new client.Counter({
      name: 'loyalty_rules_reload_failures_total',
      help: 'Rules files rejected on reload (the rules in force stayed)',
      registers: [registry],
    }),
    pointsExpired: new client.Counter({
      name: 'loyalty_points_expired_total',
      help: "Points expired (the ledger's expire rows), committed; lifecycle block only",
      registers: [registry],
    }),
    pointsReleased: new client.Counter({
      name: 'loyalty_points_released_total',
      help: 'Pending points that became spendable as a partition clock passed midnight, counted at the commit that moved it; lifecycle block only',
      registers: [registry],
    }),
    openLots: new client.Gauge({
      name: 'loyalty_open_lots',
      help: 'Lots holding points, per partition this engine owns; lifecycle block only',
      labelNames: ['partition'],
      registers: [registry],
    }),
    recentIdsBusyBytes: new client.Gauge({
      name: 'loyalty_recent_ids_busy_bytes',
      help: "Memory held by busy users' recent event ids (more than a balance row holds), per partition this engine owns; bounded by RECENT_IDS_BUSY_MB",
      labelNames: ['partition'],
      registers: [registry],
    }),
    recentIdsGivenUp: new client.Counter({
      name: 'loyalty_recent_ids_given_up_total',
      help: "Users whose recent-ids summary was given up, so that their duplicate checks read the ledger's whole window: memory_budget (RECENT_IDS_BUSY_MB reached), user_limit (262,144 ids in one window), window_too_long (an idempotency window over 27 days)",
      labelNames: ['reason'],
      registers: [registry],
    }),
    partitionClocks,
    clockLag: new client.Gauge({
      name: 'loyalty_partition_clock_lag_seconds',
      help: 'Wall time minus the partition clock (the largest event time applied), per partition this engine owns; lifecycle block only',
      labelNames: ['partition'],
      registers: [registry],
      collect() {
        const now = Date.now();
        this.reset();
        for (const [partition, clock] of partitionClocks) this.set({ partition }, (now - clock) / 1000);
      },
    }),
  };
  // Every reason's series from the start: a first burst of give-ups must show as an increase, not as a new series.
  for (const reason of GIVE_UP_REASONS) m.recentIdsGivenUp.inc({ reason }, 0);
  return m;
}

export type EngineMetrics = {
  registry: client.Registry;
  consumerLag: client.Gauge<'topic' | 'partition'>;
  flushDuration: client.Histogram;
  flushBatch: client.Histogram;
  events: client.Counter<'type' | 'outcome'>;
  deadLetters: client.Counter<'reason'>;
  deadLettersPublished: client.Counter;
  rebalances: client.Counter<'kind'>;
  assignedPartitions: client.Gauge;
  queueDepth: client.Gauge<'partition'>;
  flushConflicts: client.Counter;
  actorResets: client.Counter<'cause'>;
  httpDuration: client.Histogram<'route' | 'status'>;
  rulesInfo: client.Gauge<'version'>;
  rulesReloadFailures: client.Counter;
  pointsExpired: client.Counter;
  pointsReleased: client.Counter;
  openLots: client.Gauge<'partition'>;
  recentIdsBusyBytes: client.Gauge<'partition'>;
  recentIdsGivenUp: client.Counter<'reason'>;
  partitionClocks: Map<string, number>;
  clockLag: client.Gauge<'partition'>;
};
