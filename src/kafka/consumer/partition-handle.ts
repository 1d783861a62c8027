import { BatchBuilder } from '../../actors/batch-codec.js';
import type { Assignment } from './rdkafka-consumer.js';
import { PartitionLifecycle } from './partition-lifecycle.js';

/** What a handle needs of the Kafka client: stopping and restarting its own partition's fetches. */
export interface PauseControl {
  pause(a: Assignment[]): void;
  resume(a: Assignment[]): void;
}

export interface HandleLimits {
  /** Messages in one actor task at most. */
  maxBatchEvents: number;
  /** Fetched messages waiting for the actor before the partition is paused. */
  maxQueuedEvents: number;
}

/**
 * The main thread's side of one assigned partition, as a Kafka Streams task owns its record queue:
 * the fetched messages waiting for the actor (packed, one builder per future task), the task in
 * flight, the unflushed count the actor last reported, the position, and its own pause and resume.
 */
export class PartitionHandle {
  readonly lifecycle: PartitionLifecycle;
  /** Bumped whenever the actor is (re)opened; the worker refuses tasks of an older epoch. */
  epoch = 0;
  /** The offset Postgres holds, as of the last result. */
  committedOffset = -1;
  /** Unflushed events in the actor, as of its last result, and since when there have been some (ms; 0 = none). */
  pending = 0;
  pendingSince = 0;
  /** The actor's last result said due lots still wait in Postgres: it gets flushes (with or without events) until none do. */
  expiryBacklog = false;
  /** Rules version last sent with a task of this partition. */
  rulesVersion = '';
  /** Messages below this offset are queued or applied already: dropped. */
  private acceptFrom = 0;
  /** Builders in offset order, each with when it took its first message (ms): how long its batch has lingered. */
  private queue: { builder: BatchBuilder; since: number }[] = [];
  private inFlight = false;
  private inFlightCount = 0;
  private idleWaiters: (() => void)[] = [];
  private paused = false;
  private readonly tp: Assignment[];

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly limits: HandleLimits,
    private readonly control: PauseControl,
  ) {
    this.lifecycle = new PartitionLifecycle(partition);
    this.tp = [{ topic, partition }];
  }

  /** The next offset this partition expects from Kafka: where its fetch stands. */
  get position(): number {
    return this.acceptFrom;
  }

  /** (Re)starts consuming at `offset`, the position the actor was opened at. */
  runFrom(offset: number): void {
    this.acceptFrom = offset;
    this.committedOffset = offset;
    this.lifecycle.to('running');
    this.applyBackpressure();
  }

  /** Queues a fetched message; false when it is not wanted (not running, or below the position). */
  accept(
    offset: number,
    key: Uint8Array | null,
    value: Uint8Array | null | undefined,
    bytesHint: number,
    now: number,
    tick = false,
  ): boolean {
    if (!this.lifecycle.is('running') || offset < this.acceptFrom) return false;
    let b = this.queue[this.queue.length - 1]?.builder;
    if (b === undefined || b.full) {
      b = new BatchBuilder(this.limits.maxBatchEvents, bytesHint);
      this.queue.push({ builder: b, since: now });
    }
    if (tick) b.pushTick(offset, value);
    else b.push(offset, key, value);
    this.acceptFrom = offset + 1;
    return true;
  }

  /** The oldest queued batch, to become the next task. */
  takeBatch(): BatchBuilder | undefined {
    return this.queue.shift()?.builder;
  }

  /** The oldest queued batch, left in the queue, and when it took its first message (ms). */
  peekBatch(): { readonly builder: BatchBuilder; readonly since: number } | undefined {
    return this.queue[0];
  }

  get busy(): boolean {
    return this.inFlight;
  }

  /** A task of `events` events is with the actor; one at a time per partition keeps its events in order. */
  beginTask(events: number): void {
    if (this.inFlight) throw new Error(`partition ${this.partition}: a task is already in flight`);
    this.inFlight = true;
    this.inFlightCount = events;
  }

  endTask(): void {
    this.inFlight = false;
    this.inFlightCount = 0;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves once no task is in flight. */
  idle(): Promise<void> {
    if (!this.inFlight) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The actor's unflushed count after a task. */
  recordPending(n: number, now: number): void {
    if (n > 0 && this.pending === 0) this.pendingSince = now;
    this.pending = n;
    if (n === 0) this.pendingSince = 0;
  }

  /** The actor lost its position: what was queued or pending is forgotten (it is fetched again from Postgres' offset). */
  fence(): void {
    this.lifecycle.to('fenced');
    this.forget();
  }

  /** Given up: nothing more is queued or dispatched. */
  revoke(): void {
    this.lifecycle.to('revoking');
    this.queue = [];
  }

  close(): void {
    this.lifecycle.to('closed');
  }

  /** Events fetched for this partition that its actor has not applied yet. */
  queued(): number {
    // A few builders at most (MAX_QUEUED_EVENTS / MAX_BATCH_EVENTS): summing beats keeping a count in step.
    let n = this.inFlightCount;
    for (const q of this.queue) n += q.builder.count;
    return n;
  }

  /** Events held for this partition that Postgres does not have yet. */
  unflushed(): number {
    return this.queued() + this.pending;
  }

  /** Pauses past the bound, resumes at half of it; only what waits for the actor counts (the actor bounds its own by flushing). */
  applyBackpressure(): void {
    const held = this.queued();
    if (!this.paused && held > this.limits.maxQueuedEvents) {
      this.control.pause(this.tp);
      this.paused = true;
    } else if (this.paused && held <= this.limits.maxQueuedEvents / 2 && this.lifecycle.is('running')) {
      this.control.resume(this.tp);
      this.paused = false;
    }
  }

  get isPaused(): boolean {
    return this.paused;
  }

  private forget(): void {
    this.queue = [];
    this.pending = 0;
    this.pendingSince = 0;
    this.expiryBacklog = false;
  }
}
