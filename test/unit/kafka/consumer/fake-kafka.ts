import type { Message } from '../../../../src/kafka/library.js';
import type { ActorResult, ActorTask } from '../../../../src/actors/protocol.js';
import type { ActorRunner } from '../../../../src/kafka/consumer/engine-consumer.js';
import type { Assignment, RdConsumer, RebalanceHandler } from '../../../../src/kafka/consumer/rdkafka-consumer.js';

/** The slice of librdkafka the consumer uses, in memory: tests deliver messages and rebalances by hand. */
export class FakeClient implements RdConsumer {
  onRebalance: RebalanceHandler = () => undefined;
  readonly inbox: Message[] = [];
  readonly calls: { op: string; args: unknown }[] = [];
  /** As in librdkafka, a partition's pause outlives its assignment: revoked paused, it is assigned again paused. */
  readonly paused = new Set<number>();
  connect(_o: object, cb: (err: null) => void): void {
    cb(null);
  }
  subscribe(topics: string[]): void {
    this.calls.push({ op: 'subscribe', args: topics });
  }
  consume(n: number, cb: (err: null, messages: Message[]) => void): void {
    // A paused partition's messages stay fetched-but-held, as librdkafka's do.
    const ready = this.inbox.filter((m) => !this.paused.has(m.partition)).slice(0, n);
    for (const m of ready) this.inbox.splice(this.inbox.indexOf(m), 1);
    if (ready.length > 0) cb(null, ready);
    else setTimeout(() => cb(null, []), 5);
  }
  setDefaultConsumeTimeout(): void {}
  setDefaultIsTimeoutOnlyForFirstMessage(): void {}
  incrementalAssign(a: Assignment[]): void {
    this.calls.push({ op: 'assign', args: a });
  }
  incrementalUnassign(a: Assignment[]): void {
    this.calls.push({ op: 'unassign', args: a });
  }
  assignmentLost(): boolean {
    return false;
  }
  pause(a: Assignment[]): void {
    this.calls.push({ op: 'pause', args: a.map((x) => x.partition) });
    for (const x of a) this.paused.add(x.partition);
  }
  resume(a: Assignment[]): void {
    this.calls.push({ op: 'resume', args: a.map((x) => x.partition) });
    for (const x of a) this.paused.delete(x.partition);
  }
  seek(a: Required<Assignment>, _t: number, cb: (err: null) => void): void {
    this.calls.push({ op: 'seek', args: a });
    cb(null);
  }
  commit(a: Required<Assignment>[]): void {
    this.calls.push({ op: 'commit', args: a });
  }
  getWatermarkOffsets(): { highOffset: number; lowOffset: number } {
    return { highOffset: -1, lowOffset: -1 };
  }
  queryWatermarkOffsets(
    _t: string,
    _p: number,
    _timeout: number,
    cb: (err: null, offsets: { highOffset: number; lowOffset: number }) => void,
  ): void {
    cb(null, { highOffset: -1, lowOffset: 0 });
  }
  disconnect(cb: (err: unknown) => void): void {
    cb(null);
  }
  isConnected(): boolean {
    return true;
  }
  on(): void {}

  deliver(topic: string, partition: number, offsets: number[]): void {
    for (const offset of offsets)
      this.inbox.push({
        topic,
        partition,
        offset,
        key: Buffer.from('u'),
        value: Buffer.from('{}'),
        size: 2,
      } as Message);
  }
  ops(op: string): unknown[] {
    return this.calls.filter((c) => c.op === op).map((c) => c.args);
  }
}

interface Pending {
  task: ActorTask;
  resolve: (r: ActorResult) => void;
  reject: (e: Error) => void;
}

/** Actor threads whose answers the test gives, task by task. */
export class FakeActors implements ActorRunner {
  readonly tasks: Pending[] = [];
  private auto = false;
  run(task: ActorTask): Promise<ActorResult> {
    return new Promise((resolve, reject) => {
      const t = { task, resolve, reject };
      this.tasks.push(t);
      if (this.auto) this.answer(t);
    });
  }
  /** From now on every task is answered at once (so a test's teardown can stop the consumer). */
  answerEverything(): void {
    this.auto = true;
    for (const t of this.open()) this.answer(t);
  }
  /** Tasks not answered yet. */
  open(): Pending[] {
    return this.tasks.filter((t) => !answered.has(t));
  }
  answer(t: Pending, r: Partial<ActorResult> = {}): void {
    answered.add(t);
    t.resolve(actorResult(r));
  }
}

/** An actor's answer: nothing applied, nothing flushed, unless `r` says otherwise. */
export function actorResult(r: Partial<ActorResult> = {}): ActorResult {
  return {
    status: 'ok',
    nextOffset: 0,
    committedOffset: 0,
    pending: 0,
    events: {},
    deadLetters: {},
    flush: null,
    recentIds: { busyBytes: 0, givenUp: {} },
    ...r,
  };
}
const answered = new WeakSet<Pending>();

export const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `check` holds (the consumer reacts on timers and promise callbacks). */
export async function until(what: string, check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick(2);
  }
}
