import { readFileSync, existsSync } from 'node:fs';
import { brokerLogFile, brokerSettings } from './kafka-broker.js';
import { StackError } from './process-utils.js';
import { stackDown, stackStatus, stackUp } from './stack.js';

const log = (line: string): void => console.log(`[stack] ${line}`);

async function main(command: string): Promise<number> {
  switch (command) {
    case 'up': {
      const ends = await stackUp(log);
      log(`up: KAFKA_BROKERS=${ends.kafkaBrokers} DATABASE_URL recorded in .stack/env`);
      return 0;
    }
    case 'down':
      await stackDown(log);
      return 0;
    case 'status': {
      const s = await stackStatus();
      log(`kafka:    ${s.kafka}`);
      log(`postgres: ${s.postgres}`);
      return s.up ? 0 : 1;
    }
    case 'logs': {
      const file = brokerLogFile(brokerSettings());
      if (!existsSync(file)) {
        log('no broker log yet');
        return 1;
      }
      process.stdout.write(readFileSync(file, 'utf8').split('\n').slice(-200).join('\n'));
      return 0;
    }
    default:
      console.error(`usage: npm run stack -- [up|down|status|logs] (got "${command}")`);
      return 2;
  }
}

main(process.argv[2] ?? 'up').then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof StackError) console.error(`[stack] error: ${err.message}`);
    else console.error('[stack] unexpected error:', err);
    process.exit(1);
  },
);
