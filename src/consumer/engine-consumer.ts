import type { Logger } from 'pino';
import type { ActorPool } from '../actors/actor-pool.js';
import { BatchBuilder } from '../actors/batch-codec.js';
import type { ActorResult, ActorTask } from '../actors/protocol.js';
import type { EngineMetrics } from '../metrics/registry.js';
import { consumeBatch, createRdConsumer, type Assignment, type RdConsumer } from './rdkafka-consumer.js';
import { newPartitionState, queued, unflushed, type PartitionState } from './partition-state.js';

export interface EngineConsumerSettings {
  brokers: string;
  topic: string;
  groupId: string;
  clientId: string;
  sessionTimeoutMs: number;
  maxMessageBytes: number;
  maxBatchEvents: number;
  /** Fetched messages a partition may hold waiting for its actor before it is paused. */
  maxQueuedEvents: number;
  flushMaxAgeMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Consumes the events topic and routes each partition's messages, in order, to the
 * partition's actor on its worker thread. It owns the partition lifecycle: on assignment
 * it opens actors at the offsets stored in Postgres and seeks there; on revocation it
 * flushes them before releasing; it pauses partitions whose actors fall behind.
 */
export class EngineConsumer {
  private readonly consumer: RdConsumer;
  private readonly parts = new Map<number, PartitionState>();
  private epochSeq = 0;
  /** Bytes to give a new batch builder (learnt from the batches sent). */
  private batchBytesHint = 64 * 1024;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private rebalanceChain: Promise<void> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  /** Rules reloaded since start: attached to each partition's next task. */
  private rules: { version: string; text: string } | null = null;
  /** Called after flushes that recorded dead letters (the relay publishes them). */
  onDeadLetters: () => void = () => undefined;

  constructor(
    private readonly s: EngineConsumerSettings,
    private readonly actors: ActorPool,
    private readonly metrics: EngineMetrics,
    private readonly log: Logger,
  ) {
    this.consumer = createRdConsumer(s, (kind, tps) => {
      // librdkafka waits for our incremental (un)assign, so the async work below is safe; chain so rebalances never overlap.
      this.rebalanceChain = this.rebalanceChain
        .then(() => (kind === 'assign' ? this.onAssign(tps) : this.onRevoke(tps)))
        .catch((e: unknown) => this.log.error({ err: errText(e) }, 'rebalance handling failed'));
    });
    this.consumer.on('event.error', (e) => this.log.warn({ err: e.message, code: e.code }, 'kafka client error'));
  }

  /** New rules for every batch dispatched from now on. */
  setRules(rules: { version: string; text: string }): void {
    this.rules = rules;
  }

  /** The rules to attach to a task of this partition, if it has not had them yet. */
  private rulesFor(ps: PartitionState): { rules?: { version: string; text: string } } {
    if (this.rules === null || ps.rulesVersion === this.rules.version) return {};
    ps.rulesVersion = this.rules.version;
    return { rules: this.rules };
  }

  /** Partitions owned right now (opened and active). */
  get assigned(): number {
    let n = 0;
    for (const ps of this.parts.values()) if (ps.status === 'active') n++;
    return n;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.consumer.connect({ timeout: 30_000 }, (err) => (err ? reject(err) : resolve())));
    this.consumer.setDefaultConsumeTimeout(100);
    // By default consume(2000) waits up to the timeout for each message: at 5k events/s a call took
    // ~400 ms to fill, and every event waited that long before its actor saw it.
    this.consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
    this.consumer.subscribe([this.s.topic]);
    this.running = true;
    this.loop = this.consumeLoop();
    this.timers.push(setInterval(() => this.requestAgedFlushes(), Math.max(10, Math.floor(this.s.flushMaxAgeMs / 2))));
    this.timers.push(setInterval(() => this.updateLag(), 2000));
    this.timers.push(setInterval(() => this.probeBroker(), 2000));
  }

  private async consumeLoop(): Promise<void> {
    const touched = new Set<PartitionState>();
    while (this.running) {
      let messages;
      try {
        messages = await consumeBatch(this.consumer, 2000);
      } catch (e) {
        this.log.warn({ err: errText(e) }, 'consume failed; retrying');
        await sleep(200);
        continue;
      }
      for (const m of messages) {
        if (m.topic !== this.s.topic) continue;
        const ps = this.parts.get(m.partition);
        if (ps === undefined || ps.status !== 'active' || m.offset < ps.acceptFrom) continue;
        let b = ps.queue[ps.queue.length - 1];
        if (b === undefined || b.full) {
          b = new BatchBuilder(this.s.maxBatchEvents, this.batchBytesHint);
          ps.queue.push(b);
        }
        b.push(m.offset, typeof m.key === 'string' ? Buffer.from(m.key) : m.key, m.value);
        ps.acceptFrom = m.offset + 1;
        touched.add(ps);
      }
      for (const ps of touched) {
        this.applyBackpressure(ps);
        this.pump(ps);
      }
      touched.clear();
    }
  }

  /** Sends the partition's next task if none is in flight: a requested flush first, else the queued messages. */
  private pump(ps: PartitionState): void {
    if (ps.inFlight || ps.status !== 'active') return;
    let task: ActorTask;
    if (ps.flushRequested) {
      ps.flushRequested = false;
      task = { op: 'flush', topic: this.s.topic, partition: ps.partition, epoch: ps.epoch, ...this.rulesFor(ps) };
    } else if (ps.queue.length > 0) {
      const builder = ps.queue.shift()!;
      // Size new builders like the last well-filled batch, so they rarely grow.
      if (builder.count * 2 >= builder.capacity) this.batchBytesHint = Math.ceil((builder.bytesUsed / builder.count) * builder.capacity * 1.1) + 1024;
      const batch = builder.finish();
      ps.inFlightCount = batch.count;
      task = { op: 'process', topic: this.s.topic, partition: ps.partition, epoch: ps.epoch, batch, ...this.rulesFor(ps) };
    } else {
      return;
    }
    ps.inFlight = true;
    this.actors.run(task).then(
      (r) => this.onResult(ps, task, r),
      (e: unknown) => this.onTaskError(ps, e),
    );
  }

  private onResult(ps: PartitionState, task: ActorTask, r: ActorResult): void {
    ps.inFlight = false;
    ps.inFlightCount = 0;
    this.record(r);
    if (r.status !== 'ok') {
      if (r.status === 'fenced') this.metrics.flushConflicts.inc();
      this.log.warn({ partition: ps.partition, status: r.status, op: task.op }, 'actor lost its position; reopening from Postgres');
      void this.reopen(ps, r.status);
      return;
    }
    if (r.committedOffset > ps.committedOffset) {
      ps.committedOffset = r.committedOffset;
      this.commitToKafka(ps);
    }
    if (r.pending > 0 && ps.pending === 0) ps.pendingSince = Date.now();
    ps.pending = r.pending;
    if (r.pending === 0) ps.pendingSince = 0;
    this.metrics.queueDepth.set({ partition: String(ps.partition) }, unflushed(ps));
    this.applyBackpressure(ps);
    this.wakeIdle(ps);
    this.pump(ps);
  }

  private onTaskError(ps: PartitionState, e: unknown): void {
    ps.inFlight = false;
    ps.inFlightCount = 0;
    this.log.error({ partition: ps.partition, err: errText(e) }, 'actor task failed; reopening from Postgres');
    this.wakeIdle(ps);
    void this.reopen(ps, 'error');
  }

  private record(r: ActorResult): void {
    for (const [k, n] of Object.entries(r.events)) {
      const [type = 'unknown', outcome = 'unknown'] = k.split(':');
      this.metrics.events.inc({ type, outcome }, n);
    }
    let dead = 0;
    for (const [reason, n] of Object.entries(r.deadLetters)) {
      this.metrics.deadLetters.inc({ reason }, n);
      dead += n;
    }
    for (const f of r.flushes) {
      this.metrics.flushDuration.observe(f.seconds);
      this.metrics.flushBatch.observe(f.events);
    }
    // Dead letters reach Postgres with a flush: relay once one has happened since some were recorded.
    if (dead > 0) this.deadLettersUnrelayed = true;
    if (r.flushes.length > 0 && this.deadLettersUnrelayed) {
      this.deadLettersUnrelayed = false;
      this.onDeadLetters();
    }
  }

  private deadLettersUnrelayed = false;
  private brokerAnswered = true;

  /** False while the broker has not answered the last periodic watermark query. */
  get brokerReachable(): boolean {
    return this.brokerAnswered;
  }

  /** A cheap round trip to the partition leader, so readiness reflects a broker that went away. */
  private probeBroker(): void {
    this.consumer.queryWatermarkOffsets(this.s.topic, 0, 1500, (err) => {
      const up = !err;
      if (up !== this.brokerAnswered) this.log.warn({ reachable: up }, up ? 'kafka broker answers again' : 'kafka broker does not answer');
      this.brokerAnswered = up;
    });
  }

  /** Drops the actor's state and opens it again from what Postgres holds, then seeks Kafka there. */
  private async reopen(ps: PartitionState, cause: string): Promise<void> {
    if (ps.status !== 'active') return;
    this.metrics.actorResets.inc({ cause });
    ps.status = 'seeking';
    ps.queue = [];
    ps.pending = 0;
    ps.pendingSince = 0;
    ps.flushRequested = false;
    const offset = await this.openActor(ps);
    if (this.parts.get(ps.partition) !== ps || ps.status !== 'seeking') return;
    await this.seek(ps.partition, offset);
    if (ps.status !== 'seeking') return;
    ps.acceptFrom = offset;
    ps.committedOffset = offset;
    ps.status = 'active';
    this.applyBackpressure(ps);
  }

  /** Opens (or reopens) the partition's actor with a fresh epoch; retries while Postgres is away. */
  private async openActor(ps: PartitionState): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      ps.epoch = ++this.epochSeq;
      try {
        // A reopened actor may sit on a new (or restarted) thread: always bring the current rules.
        ps.rulesVersion = '';
        const r = await this.actors.run({ op: 'open', topic: this.s.topic, partition: ps.partition, epoch: ps.epoch, ...this.rulesFor(ps) });
        return r.committedOffset;
      } catch (e) {
        if (attempt === 1 || attempt % 10 === 0) this.log.warn({ partition: ps.partition, attempt, err: errText(e) }, 'opening actor failed; retrying');
        await sleep(Math.min(5000, 100 * attempt));
      }
    }
  }

  private seek(partition: number, offset: number): Promise<void> {
    return new Promise((resolve) => {
      const attempt = (n: number): void => {
        this.consumer.seek({ topic: this.s.topic, partition, offset }, 5000, (err) => {
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
    const mine = tps.filter((t) => t.topic === this.s.topic);
    this.metrics.rebalances.inc({ kind: 'assign' });
    const states = mine.map((t) => {
      const ps = newPartitionState(t.partition, 0);
      this.parts.set(t.partition, ps);
      return ps;
    });
    const offsets = await Promise.all(states.map((ps) => this.openActor(ps)));
    // Assign at the stored offsets: Kafka's own committed offsets are never the source of truth.
    this.consumer.incrementalAssign(
      tps.map((t) => {
        const i = states.findIndex((ps) => ps.partition === t.partition && t.topic === this.s.topic);
        return i >= 0 ? { topic: t.topic, partition: t.partition, offset: offsets[i]! } : t;
      }),
    );
    states.forEach((ps, i) => {
      ps.acceptFrom = offsets[i]!;
      ps.committedOffset = offsets[i]!;
      ps.status = 'active';
    });
    this.metrics.assignedPartitions.set(this.assigned);
    this.log.info({ partitions: states.map((p) => `${p.partition}@${p.acceptFrom}`) }, 'partitions assigned');
  }

  private async onRevoke(tps: Assignment[]): Promise<void> {
    const lost = this.consumer.assignmentLost();
    this.metrics.rebalances.inc({ kind: lost ? 'lost' : 'revoke' });
    await Promise.all(
      tps
        .filter((t) => t.topic === this.s.topic)
        .map(async (t) => {
          const ps = this.parts.get(t.partition);
          if (ps === undefined) return;
          await this.closePartition(ps, !lost);
        }),
    );
    this.consumer.incrementalUnassign(tps);
    this.metrics.assignedPartitions.set(this.assigned);
    this.log.info({ partitions: tps.map((t) => t.partition), lost }, 'partitions revoked');
  }

  /** Stops feeding the actor, waits for its task, commits what it applied (unless the assignment was lost), and forgets it. */
  private async closePartition(ps: PartitionState, flush: boolean): Promise<void> {
    ps.status = 'closing';
    ps.queue = [];
    await this.idle(ps);
    try {
      const r = await this.actors.run({ op: 'close', topic: this.s.topic, partition: ps.partition, epoch: ps.epoch, flush });
      this.record(r);
      if (r.status === 'ok' && r.committedOffset > ps.committedOffset) {
        ps.committedOffset = r.committedOffset;
        this.commitToKafka(ps);
      }
    } catch (e) {
      this.log.warn({ partition: ps.partition, err: errText(e) }, 'closing actor failed; its uncommitted events will be consumed again by the next owner');
    }
    this.parts.delete(ps.partition);
    this.metrics.queueDepth.remove({ partition: String(ps.partition) });
    this.metrics.consumerLag.remove({ topic: this.s.topic, partition: String(ps.partition) });
  }

  private idle(ps: PartitionState): Promise<void> {
    if (!ps.inFlight) return Promise.resolve();
    return new Promise((resolve) => ps.idleWaiters.push(resolve));
  }

  private wakeIdle(ps: PartitionState): void {
    const waiters = ps.idleWaiters.splice(0);
    for (const w of waiters) w();
  }

  private applyBackpressure(ps: PartitionState): void {
    // Only what waits for the actor counts: the actor bounds its own unflushed events by flushing inline.
    const held = queued(ps);
    const tp = [{ topic: this.s.topic, partition: ps.partition }];
    if (!ps.paused && held > this.s.maxQueuedEvents) {
      this.consumer.pause(tp);
      ps.paused = true;
    } else if (ps.paused && held <= this.s.maxQueuedEvents / 2 && ps.status === 'active') {
      this.consumer.resume(tp);
      ps.paused = false;
    }
  }

  private requestAgedFlushes(): void {
    const now = Date.now();
    for (const ps of this.parts.values()) {
      if (ps.status === 'active' && ps.pending > 0 && ps.pendingSince > 0 && now - ps.pendingSince >= this.s.flushMaxAgeMs) {
        ps.flushRequested = true;
        this.pump(ps);
      }
    }
  }

  /** Mirrors the Postgres position into Kafka's group offsets, for standard lag tools only. */
  private commitToKafka(ps: PartitionState): void {
    if (ps.status !== 'active' && ps.status !== 'closing') return;
    try {
      this.consumer.commit([{ topic: this.s.topic, partition: ps.partition, offset: ps.committedOffset }]);
    } catch (e) {
      this.log.debug({ partition: ps.partition, err: errText(e) }, 'kafka offset commit failed (informational only)');
    }
  }

  private updateLag(): void {
    for (const ps of this.parts.values()) {
      if (ps.status !== 'active' || ps.committedOffset < 0) continue;
      try {
        const w = this.consumer.getWatermarkOffsets(this.s.topic, ps.partition);
        if (w.highOffset >= 0) this.metrics.consumerLag.set({ topic: this.s.topic, partition: String(ps.partition) }, Math.max(0, w.highOffset - ps.committedOffset));
      } catch {
        /* watermarks not known yet */
      }
    }
  }

  /** Stops fetching, commits what every actor holds, leaves the group. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const t of this.timers) clearInterval(t);
    await this.loop;
    await this.rebalanceChain;
    await Promise.all([...this.parts.values()].map((ps) => this.closePartition(ps, true)));
    await new Promise<void>((resolve) => this.consumer.disconnect(() => resolve()));
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
