import type { Logger } from 'pino';
import type { Assignment, RebalanceHandler } from './rdkafka-consumer.js';
import { errorText } from '../../errors.js';

export interface RebalanceHandlers {
  assign(partitions: Assignment[]): Promise<void>;
  revoke(partitions: Assignment[]): Promise<void>;
}

/**
 * librdkafka waits for our incremental (un)assign, so the async work of a rebalance is safe; this
 * runs them one after another so that an assignment and a revocation never interleave.
 */
export class RebalanceListener {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly handlers: RebalanceHandlers,
    private readonly log: Logger,
  ) {}

  readonly onRebalance: RebalanceHandler = (kind, partitions) => {
    this.chain = this.chain
      .then(() => (kind === 'assign' ? this.handlers.assign(partitions) : this.handlers.revoke(partitions)))
      .catch((e: unknown) => this.log.error({ err: errorText(e) }, 'rebalance handling failed'));
  };

  /** Resolves when every rebalance received so far has been handled. */
  settled(): Promise<void> {
    return this.chain;
  }
}
