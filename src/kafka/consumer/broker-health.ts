import type { Logger } from 'pino';
import type { RdConsumer } from './rdkafka-consumer.js';

/** Whether the partition leader answered the last cheap round trip, so readiness reflects a broker that went away. */
export class BrokerHealth {
  private answered = true;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly client: Pick<RdConsumer, 'queryWatermarkOffsets'>,
    private readonly topic: string,
    private readonly log: Logger,
  ) {}

  get reachable(): boolean {
    return this.answered;
  }

  start(everyMs = 2000): void {
    this.timer = setInterval(() => this.probe(), everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  probe(): void {
    this.client.queryWatermarkOffsets(this.topic, 0, 1500, (err) => {
      const up = !err;
      if (up !== this.answered)
        this.log.warn({ reachable: up }, up ? 'kafka broker answers again' : 'kafka broker does not answer');
      this.answered = up;
    });
  }
}
