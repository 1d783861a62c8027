import { Piscina } from 'piscina';
import { transferList } from './batch-codec.js';
import type { ActorResult, ActorTask } from './protocol.js';
import type { WorkerSettings } from './worker.js';

/**
 * Partition affinity: a partition's tasks always go to the thread its actor lives on.
 * Partitions are bound to the thread with the fewest partitions when first seen, and
 * rebound only if that thread is gone (its actors are then reopened from Postgres).
 */
type PiscinaLoadBalancer = NonNullable<NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer']>;

export function affinityBalancer(): PiscinaLoadBalancer {
  const threadOfSlot = new Map<number, number>();
  return (task, workers) => {
    const opts = (task as unknown as Record<symbol, { slot?: number } | null | undefined>)[Piscina.queueOptionsSymbol];
    const slot = opts?.slot ?? 0;
    const bound = threadOfSlot.get(slot);
    if (bound !== undefined) {
      const w = workers.find((x) => x.id === bound);
      if (w) return w;
      if (workers.length === 0) return null;
    }
    if (workers.length === 0) return null;
    const load = new Map<number, number>();
    for (const t of threadOfSlot.values()) load.set(t, (load.get(t) ?? 0) + 1);
    let best = workers[0]!;
    for (const w of workers) if ((load.get(w.id) ?? 0) < (load.get(best.id) ?? 0)) best = w;
    threadOfSlot.set(slot, best.id);
    return best;
  };
}

const workerFile = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url).href;

export class ActorPool {
  private readonly piscina: Piscina<ActorTask, ActorResult>;

  constructor(threads: number, settings: WorkerSettings) {
    this.piscina = new Piscina<ActorTask, ActorResult>({
      filename: workerFile,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Infinity,
      // Tasks of different partitions on one thread interleave at their awaits (Postgres I/O);
      // tasks of one partition never overlap, because the consumer sends them one at a time.
      concurrentTasksPerWorker: 256,
      loadBalancer: affinityBalancer(),
      workerData: settings,
    });
  }

  run(task: ActorTask): Promise<ActorResult> {
    const runTask = Object.assign(task, { [Piscina.queueOptionsSymbol]: { slot: task.partition } });
    const transfer = task.op === 'process' ? transferList(task.batch) : undefined;
    return this.piscina.run(runTask, transfer ? { transferList: transfer } : {});
  }

  get threads(): number {
    return this.piscina.threads.length;
  }

  async close(): Promise<void> {
    await this.piscina.close({ force: true });
  }
}
