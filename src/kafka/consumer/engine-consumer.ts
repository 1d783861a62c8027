import type { Logger } from 'pino';
import type { ActorResult, ActorTask } from '../../actors/protocol.js';
import type { EngineMetrics } from '../../metrics/registry.js';
import { errorText } from '../../errors.js';
import { backoffMs, sleep } from '../../backoff.js';
import { BrokerHealth } from './broker-health.js';
import { FlushPolicy } from './flush-policy.js';
import { BatchLinger } from './batch-linger.js';
import { PartitionHandle } from './partition-handle.js';
import {
  consumeBatch,
  isFatalError,
  isOffsetResetError,
  createRdConsumer,
  type Assignment,
  type ConsumerSettings,
  type RdConsumer,
  type RebalanceHandler,
} from './rdkafka-consumer.js';
import { recordResult } from './result-metrics.js';
import { isTickMessage } from '../clock-tick.js';
import { RebalanceListener } from './rebalance-listener.js';

export interface EngineConsumerSettings extends ConsumerSettings {
  topic: string;
  maxBatchEvents: number;
  /** Fetched messages a partition may hold waiting for its actor before it is paused. */
  maxQueuedEvents: number;
  /** Commit a partition once this many events are pending ... */
  flushMaxEvents: number;
  /** ... or once its oldest pending event is this old. */
  flushMaxAgeMs: number;
  /** A queued batch that is not full waits this long for more messages before it goes to the actor. */
  actorLingerMs: number;
}

/** What the consumer needs of the actor threads (the ActorPool; a fake in unit tests). */
export interface ActorRunner {
  run(task: ActorTask): Promise<ActorResult>;
}

/** Builds the Kafka client; injected so the partition logic can be driven by a fake in unit tests. */
export type ClientFactory = (s: EngineConsumerSettings, onRebalance: RebalanceHandler) => RdConsumer;

type Rules = { version: string; text: string };

/** Messages one call to the Kafka client returns at most. */
const FETCH_MAX = 2000;

/** A partition whose position has not moved for this long has it checked against Kafka's watermarks. */
const STILL_CHECK_MS = 10_000;

/**
 * Consumes the events topic and routes each partition's messages, in order, to the partition's
 * actor on its worker thread. Like a Kafka Streams thread with its tasks: the fetch loop feeds a
 * PartitionHandle per assigned partition (its queue, pause and lifecycle), the rebalance listener
 * opens actors at the offsets stored in Postgres and closes them on revocation, and the flush
 * policy decides when a partition commits.
 */
export class EngineConsumer {
  private readonly client: RdConsumer;
  private readonly handles = new Map<number, PartitionHandle>();
  private readonly rebalances: RebalanceListener;
  private readonly health: BrokerHealth;
  private readonly policy: FlushPolicy;
  private readonly linger: BatchLinger;
  private epochSeq = 0;
  /** Bytes to give a new batch builder (learnt from the batches sent). */
  private batchBytesHint = 64 * 1024;
  private running = false;
  private stopping = false;
  private loop: Promise<void> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  /** Positions committed in Postgres and not yet copied into Kafka's group offsets. */
  private readonly unmirrored = new Map<number, number>();
  /** Rules reloaded since start: attached to each partition's next task. */
  private rules: Rules | null = null;
  private deadLettersUnrelayed = false;
  /** resumePastDeleted is running (librdkafka may report the failed fetch again meanwhile). */
  private checkingPositions = false;
  /** Each partition's position and since when it has not moved (checkStill). */
  private readonly still = new Map<number, { position: number; at: number }>();
  /** Called once the Kafka client has failed for good (a consume answers ERR__FATAL); the engine must stop. */
  onFatal: (e: Error) => void = () => undefined;
  /** Called after flushes that recorded dead letters (the relay publishes them). */
  onDeadLetters: () => void = () => undefined;

  constructor(
    private readonly s: EngineConsumerSettings,
    private readonly actors: ActorRunner,
    private readonly metrics: EngineMetrics,
    private readonly log: Logger,
    createClient: ClientFactory = createRdConsumer,
  ) {
    this.policy = new FlushPolicy(s.flushMaxEvents, s.flushMaxAgeMs);
    this.linger = new BatchLinger(s.actorLingerMs);
    this.rebalances = new RebalanceListener(
      { assign: (tps) => this.onAssign(tps), revoke: (tps) => this.onRevoke(tps) },
      log,
    );
    this.client = createClient(s, this.rebalances.onRebalance);
    this.client.on('event.error', (e) => this.log.warn({ err: e.message, code: e.code }, 'kafka client error'));
    this.health = new BrokerHealth(this.client, s.topic, log);
  }

  /** New rules for every batch dispatched from now on. */
  setRules(rules: Rules): void {
    this.rules = rules;
  }

  /** Partitions owned right now (opened and running). */
  get assigned(): number {
    return this.activePartitions.length;
  }

  /** The partitions owned right now, ascending (the console lists them). */
  get activePartitions(): number[] {
    const out: number[] = [];
    for (const h of this.handles.values()) if (h.lifecycle.is('running')) out.push(h.partition);
    return out.sort((a, b) => a - b);
  }

  /** False while the broker has not answered the last periodic watermark query. */
  get brokerReachable(): boolean {
    return this.health.reachable;
  }

  /** The handle of a partition, for tests and diagnostics. */
  handle(partition: number): PartitionHandle | undefined {
    return this.handles.get(partition);
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      this.client.connect({ timeout: 30_000 }, (err) => (err ? reject(err) : resolve())),
    );
    this.client.setDefaultConsumeTimeout(100);
    // By default consume(2000) waits up to the timeout for each message: at 5k events/s a call took
    // ~400 ms to fill, and every event waited that long before its actor saw it.
    this.client.setDefaultIsTimeoutOnlyForFirstMessage(true);
    this.client.subscribe([this.s.topic]);
    this.running = true;
    this.loop = this.fetchLoop();
    this.timers.push(setInterval(() => this.dispatchAll(), this.linger.checkEveryMs(this.s.flushMaxAgeMs)));
    this.timers.push(setInterval(() => this.updateLag(), 2000));
    this.timers.push(setInterval(() => this.mirrorOffsets(), 1000));
    this.health.start();
  }

  /** Fetches and routes messages to their partitions' handles, in offset order. */
  private async fetchLoop(): Promise<void> {
    const touched = new Set<PartitionHandle>();
    while (this.running) {
      let messages;
      try {
        messages = await consumeBatch(this.client, FETCH_MAX);
      } catch (e) {
        if (isFatalError(e)) {
          // librdkafka keeps the cause to itself; with static membership it is another engine with the same id.
          this.onFatal(
            new Error(
              `kafka consumer failed for good (${errorText(e)})${this.s.groupInstanceId === undefined ? '' : `: another engine may have joined the group with KAFKA_GROUP_INSTANCE_ID=${this.s.groupInstanceId}, fencing this one`}`,
            ),
          );
          return;
        }
        if (isOffsetResetError(e)) void this.resumePastDeleted();
        else this.log.warn({ err: errorText(e) }, 'consume failed; retrying');
        await sleep(200);
        continue;
      }
      const fetchedAt = Date.now();
      for (const m of messages) {
        if (m.topic !== this.s.topic) continue;
        const h = this.handles.get(m.partition);
        const key = typeof m.key === 'string' ? Buffer.from(m.key) : (m.key ?? null);
        const tick = m.headers !== undefined && isTickMessage(m);
        if (h?.accept(m.offset, key, m.value, this.batchBytesHint, fetchedAt, tick)) touched.add(h);
      }
      for (const h of touched) {
        h.applyBackpressure();
        this.dispatch(h);
      }
      touched.clear();
      const rest = this.linger.restAfterFetch(messages.length, FETCH_MAX);
      if (rest > 0) await sleep(rest);
    }
  }

  /**
   * Sends the partition's next task if none is in flight: its oldest queued batch once the linger lets it go,
   * a flush the policy says is due, or a flush for due lots waiting in Postgres.
   */
  private dispatch(h: PartitionHandle): void {
    if (h.busy || !h.lifecycle.is('running')) return;
    const now = Date.now();
    const address = { topic: this.s.topic, partition: h.partition, epoch: h.epoch };
    const flushDue = this.policy.due(h.pending, h.pendingSince, now);
    const head = h.peekBatch();
    // A due flush (or expiry work) takes a lingering batch along rather than leave it for the next flush. A full
    // batch is not taken along by a due flush: the flush goes first, so under a steady stream commits still come
    // at the age limit and not after applying up to MAX_BATCH_EVENTS more.
    const sendHead =
      head !== undefined &&
      (flushDue
        ? !head.builder.full
        : h.expiryBacklog || this.linger.ready(head.builder.count, head.builder.full, head.since, now));
    let task: ActorTask;
    if (sendHead) {
      const builder = h.takeBatch()!;
      // Size new builders like the last well-filled batch, so they rarely grow.
      if (builder.count * 2 >= builder.capacity)
        this.batchBytesHint = Math.ceil((builder.bytesUsed / builder.count) * builder.capacity * 1.1) + 1024;
      const batch = builder.finish();
      h.beginTask(batch.count);
      // The count limit is judged with this batch applied, so the actor never holds more than the limit plus one batch.
      // With an expiry backlog every batch commits: each flush carries a bounded share of it.
      const flush = h.expiryBacklog || this.policy.due(h.pending + batch.count, h.pendingSince || now, now);
      task = { op: 'process', ...address, batch, flush, ...this.rulesFor(h) };
    } else if (flushDue || h.expiryBacklog) {
      // Nothing to apply (or a full batch waits behind the flush); due lots in Postgres get the next bounded share expired.
      h.beginTask(0);
      task = { op: 'flush', ...address, ...this.rulesFor(h) };
    } else return;
    this.run(h, task);
  }

  private run(h: PartitionHandle, task: ActorTask): void {
    this.actors.run(task).then(
      (r) => this.onResult(h, task, r),
      (e: unknown) => this.onTaskError(h, e),
    );
  }

  private dispatchAll(): void {
    for (const h of this.handles.values()) this.dispatch(h);
  }

  /** The rules to attach to a task of this partition, if it has not had them yet. */
  private rulesFor(h: PartitionHandle): { rules?: Rules } {
    if (this.rules === null || h.rulesVersion === this.rules.version) return {};
    h.rulesVersion = this.rules.version;
    return { rules: this.rules };
  }

  private onResult(h: PartitionHandle, task: ActorTask, r: ActorResult): void {
    h.endTask();
    this.record(r, h.partition);
    if (!h.lifecycle.is('running')) return; // revoking: the closer waits for this task and takes over
    if (r.status !== 'ok') {
      if (r.status === 'fenced') this.metrics.flushConflicts.inc();
      this.log.warn(
        { partition: h.partition, status: r.status, op: task.op },
        'actor lost its position; reopening from Postgres',
      );
      void this.reopen(h, r.status);
      return;
    }
    this.advance(h, r.committedOffset);
    h.recordPending(r.pending, Date.now());
    h.expiryBacklog = r.lifecycle?.expiryBacklog ?? false;
    this.metrics.queueDepth.set({ partition: String(h.partition) }, h.unflushed());
    h.applyBackpressure();
    this.dispatch(h);
  }

  private onTaskError(h: PartitionHandle, e: unknown): void {
    h.endTask();
    if (!h.lifecycle.is('running')) return;
    this.log.error({ partition: h.partition, err: errorText(e) }, 'actor task failed; reopening from Postgres');
    void this.reopen(h, 'error');
  }

  private record(r: ActorResult, partition?: number): void {
    const n = recordResult(this.metrics, r, partition);
    // Dead letters reach Postgres with a flush: relay once one has happened since some were recorded.
    if (n.deadLetters > 0) this.deadLettersUnrelayed = true;
    if (n.flushed && this.deadLettersUnrelayed) {
      this.deadLettersUnrelayed = false;
      this.onDeadLetters();
    }
  }

  /** Drops the actor's state and opens it again from what Postgres holds, then seeks Kafka there. */
  private async reopen(h: PartitionHandle, cause: string): Promise<void> {
    this.metrics.actorResets.inc({ cause });
    h.fence();
    const offset = await this.openActor(h);
    // A revocation may have come while Postgres was asked: it owns the partition from then on.
    if (!h.lifecycle.is('fenced')) return;
    if (cause === 'retention') this.reassign(h.partition, offset);
    else await this.seek(h.partition, offset);
    if (!h.lifecycle.is('fenced')) return;
    h.runFrom(offset);
  }

  /**
   * Assigns the partition again at `offset`. After a fetch at a deleted offset librdkafka leaves the partition in
   * an error state that refuses seeks ("Erroneous state"); assigning it afresh restarts its fetcher.
   */
  private reassign(partition: number, offset: number): void {
    const tp = { topic: this.s.topic, partition };
    this.client.incrementalUnassign([tp]);
    this.client.incrementalAssign([{ ...tp, offset }]);
    this.client.resume([tp]);
  }

  /** Opens (or reopens) the partition's actor with a fresh epoch; retries while Postgres is away. */
  private async openActor(h: PartitionHandle): Promise<number> {
    const earliest = await this.earliestOffset(h.partition);
    for (let attempt = 1; ; attempt++) {
      h.epoch = ++this.epochSeq;
      // A reopened actor may sit on a new (or restarted) thread: always bring the current rules.
      h.rulesVersion = '';
      h.beginTask(0);
      try {
        const r = await this.actors.run({
          op: 'open',
          earliest,
          topic: this.s.topic,
          partition: h.partition,
          epoch: h.epoch,
          ...this.rulesFor(h),
        });
        if (recordResult(this.metrics, r).deadLetters > 0) this.onDeadLetters();
        return r.committedOffset;
      } catch (e) {
        if (attempt === 1 || attempt % 10 === 0)
          this.log.warn({ partition: h.partition, attempt, err: errorText(e) }, 'opening actor failed; retrying');
        await sleep(backoffMs(attempt, { baseMs: 100, capMs: 5000 }));
      } finally {
        h.endTask();
      }
      if (h.lifecycle.is('revoking')) return h.committedOffset;
    }
  }

  /**
   * The partition's first offset in Kafka, for the open to see whether retention deleted stored positions it never
   * applied. 0 when the broker does not answer in time: the open then checks nothing; should the position be gone,
   * the fetch fails and resumePastDeleted opens the partition again.
   */
  private async earliestOffset(partition: number): Promise<number> {
    const w = await this.watermarks(partition);
    if (w === null) this.log.warn({ partition }, 'low watermark unknown; opening without the retention check');
    return w?.low ?? 0;
  }

  private watermarks(partition: number): Promise<{ low: number; high: number } | null> {
    return new Promise((resolve) => {
      this.client.queryWatermarkOffsets(this.s.topic, partition, 5000, (err, offsets) =>
        resolve(err || offsets === undefined ? null : { low: offsets.lowOffset, high: offsets.highOffset }),
      );
    });
  }

  /**
   * librdkafka could not fetch some partition at its position (auto.offset.reset is "error", so it never skips
   * silently). The binding reports that only when a consume call returned no message at all, and without the
   * partition, so every running partition is checked; a partition that stops advancing is checked too (checkStill).
   */
  private async resumePastDeleted(): Promise<void> {
    if (this.checkingPositions) return;
    this.checkingPositions = true;
    try {
      for (const h of this.handles.values())
        await this.checkPosition(h).catch((e: unknown) => this.positionCheckFailed(h, e));
    } finally {
      this.checkingPositions = false;
    }
  }

  /**
   * A partition whose position retention deleted opens again: the open records the lost offsets as a dead letter
   * and resumes at the first one Kafka holds. A position past the partition's end means its log was cut under us
   * (an unclean leader election): reported, as nothing here can bring it back.
   */
  private async checkPosition(h: PartitionHandle): Promise<void> {
    if (!h.lifecycle.is('running')) return;
    const w = await this.watermarks(h.partition);
    if (w === null || !h.lifecycle.is('running')) return;
    if (w.low > h.position) await this.reopen(h, 'retention');
    else if (h.position > w.high)
      this.log.error(
        { partition: h.partition, position: h.position, end: w.high },
        "position past the partition's end: its log was cut (an unclean leader election?) and messages written there fall below the position",
      );
  }

  private positionCheckFailed(h: PartitionHandle, e: unknown): void {
    this.log.warn(
      { partition: h.partition, err: errorText(e) },
      'checking the position against Kafka failed; checking again later',
    );
  }

  /** Checks the position of a partition that has not advanced for STILL_CHECK_MS (idle, paused, or stuck on a deleted offset). */
  private checkStill(h: PartitionHandle, now: number): void {
    const seen = this.still.get(h.partition);
    if (seen === undefined || seen.position !== h.position)
      this.still.set(h.partition, { position: h.position, at: now });
    else if (now - seen.at >= STILL_CHECK_MS) {
      seen.at = now;
      void this.checkPosition(h).catch((e: unknown) => this.positionCheckFailed(h, e));
    }
  }

  private seek(partition: number, offset: number): Promise<void> {
    return new Promise((resolve) => {
      const attempt = (n: number): void => {
        this.client.seek({ topic: this.s.topic, partition, offset }, 5000, (err) => {
          if (!err) return resolve();
          // Right after an assignment the fetcher may not be ready yet ("erroneous state"): try again shortly.
          if (n % 10 === 0) this.log.warn({ partition, offset, err: err.message }, 'seek failed; retrying');
          setTimeout(() => attempt(n + 1), Math.min(1000, 50 * n));
        });
      };
      attempt(1);
    });
  }

  private async onAssign(tps: Assignment[]): Promise<void> {
    this.metrics.rebalances.inc({ kind: 'assign' });
    if (this.stopping) {
      // Leaving the group: acknowledge so the rebalance completes, open nothing; the next owner takes them.
      this.client.incrementalAssign(tps);
      return;
    }
    const mine = tps.filter((t) => t.topic === this.s.topic);
    const handles = mine.map((t) => {
      const h = new PartitionHandle(
        this.s.topic,
        t.partition,
        { maxBatchEvents: this.s.maxBatchEvents, maxQueuedEvents: this.s.maxQueuedEvents },
        this.client,
      );
      this.handles.set(t.partition, h);
      return h;
    });
    const offsets = await Promise.all(handles.map((h) => this.openActor(h)));
    // Assign at the stored offsets: Kafka's own committed offsets are never the source of truth.
    const at = new Map(handles.map((h, i) => [h.partition, offsets[i]!]));
    this.client.incrementalAssign(
      tps.map((t) => (t.topic === this.s.topic && at.has(t.partition) ? { ...t, offset: at.get(t.partition)! } : t)),
    );
    // librdkafka keeps a partition's pause across revocation and a later assignment: one revoked while paused
    // (its queue was full) would come back paused, and its new handle, which starts unpaused, would never resume
    // it. A 30-minute soak lost six partitions for good that way after a second engine left.
    if (handles.length > 0) this.client.resume(handles.map((h) => ({ topic: this.s.topic, partition: h.partition })));
    handles.forEach((h, i) => h.runFrom(offsets[i]!));
    this.metrics.assignedPartitions.set(this.assigned);
    this.log.info({ partitions: handles.map((h, i) => `${h.partition}@${offsets[i]}`) }, 'partitions assigned');
  }

  private async onRevoke(tps: Assignment[]): Promise<void> {
    const lost = this.client.assignmentLost();
    this.metrics.rebalances.inc({ kind: lost ? 'lost' : 'revoke' });
    await Promise.all(
      tps
        .filter((t) => t.topic === this.s.topic)
        .map(async (t) => {
          const h = this.handles.get(t.partition);
          if (h !== undefined) await this.closePartition(h, !lost);
        }),
    );
    this.client.incrementalUnassign(tps);
    this.metrics.assignedPartitions.set(this.assigned);
    this.log.info({ partitions: tps.map((t) => t.partition), lost }, 'partitions revoked');
  }

  /** Stops feeding the actor, waits for its task, commits what it applied (unless the assignment was lost), and forgets it. */
  private async closePartition(h: PartitionHandle, flush: boolean): Promise<void> {
    h.revoke();
    await h.idle();
    try {
      const r = await this.actors.run({
        op: 'close',
        topic: this.s.topic,
        partition: h.partition,
        epoch: h.epoch,
        flush,
      });
      this.record(r);
      if (r.status === 'ok') this.advance(h, r.committedOffset);
    } catch (e) {
      this.log.warn(
        { partition: h.partition, err: errorText(e) },
        'closing actor failed; its uncommitted events will be consumed again by the next owner',
      );
    } finally {
      // While the partition is still ours (the next owner's lag tools start from here); never after.
      this.mirrorOffsets(h.partition);
    }
    h.close();
    this.handles.delete(h.partition);
    this.metrics.queueDepth.remove({ partition: String(h.partition) });
    this.metrics.openLots.remove({ partition: String(h.partition) });
    this.metrics.recentIdsBusyBytes.remove({ partition: String(h.partition) });
    this.still.delete(h.partition);
    this.metrics.partitionClocks.delete(String(h.partition));
    this.metrics.consumerLag.remove({ topic: this.s.topic, partition: String(h.partition) });
  }

  /** Records a new committed position; Kafka's group offsets get it with the next mirror. */
  private advance(h: PartitionHandle, committedOffset: number): void {
    if (committedOffset <= h.committedOffset) return;
    h.committedOffset = committedOffset;
    this.unmirrored.set(h.partition, committedOffset);
  }

  /**
   * Copies the positions Postgres holds into Kafka's group offsets, for standard lag tools only (the engine
   * never reads them). Once a second in one request, not at every flush: at 100 ms flushes on 12 partitions
   * that was 120 offset commits a second, for the broker and for the main thread.
   */
  private mirrorOffsets(partition?: number): void {
    const due = [...this.unmirrored].filter(([p]) => partition === undefined || p === partition);
    if (due.length === 0) return;
    for (const [p] of due) this.unmirrored.delete(p);
    try {
      this.client.commit(due.map(([p, offset]) => ({ topic: this.s.topic, partition: p, offset })));
    } catch (e) {
      this.log.debug({ partitions: due.length, err: errorText(e) }, 'kafka offset commit failed (informational only)');
    }
  }

  private updateLag(): void {
    const now = Date.now();
    for (const h of this.handles.values()) {
      if (!h.lifecycle.is('running') || h.committedOffset < 0) continue;
      this.checkStill(h, now);
      try {
        const w = this.client.getWatermarkOffsets(this.s.topic, h.partition);
        if (w.highOffset >= 0)
          this.metrics.consumerLag.set(
            { topic: this.s.topic, partition: String(h.partition) },
            Math.max(0, w.highOffset - h.committedOffset),
          );
      } catch {
        /* watermarks not known yet */
      }
    }
  }

  /** Stops fetching, commits what every actor holds, leaves the group. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.health.stop();
    await this.loop;
    await this.rebalances.settled();
    await Promise.all([...this.handles.values()].map((h) => this.closePartition(h, true)));
    await new Promise<void>((resolve) => this.client.disconnect(() => resolve()));
  }
}
