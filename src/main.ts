import { loadEngineConfig, ConfigError } from './config/env.js';
import { startEngine } from './engine.js';
import { ListenError } from './http/uws-server.js';
import { createLogger } from './logging/logger.js';
import { errorText } from './errors.js';
import { TopicReplacedError } from './store/topic-identity.js';

let cfg;
try {
  cfg = loadEngineConfig();
} catch (e) {
  console.error(e instanceof ConfigError ? e.message : e);
  process.exit(2);
}
const log = createLogger(cfg.LOG_LEVEL, { engine: cfg.ENGINE_ID });

startEngine(cfg, log).then(
  (engine) => {
    let stopping = false;
    const shutdown = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping: no more fetches, flushing and committing');
      // Bounded: past the limit we exit anyway; nothing is lost, as offsets only advance with committed balances.
      const timer = setTimeout(() => {
        log.error({ timeoutMs: cfg.SHUTDOWN_TIMEOUT_MS }, 'shutdown took too long; exiting without a final flush');
        process.exit(1);
      }, cfg.SHUTDOWN_TIMEOUT_MS);
      engine.stop().then(
        () => {
          clearTimeout(timer);
          log.info('stopped cleanly');
          process.exit(0);
        },
        (e: unknown) => {
          log.error({ err: errorText(e) }, 'error while stopping');
          process.exit(1);
        },
      );
    };
    // No final flush: after a replaced topic, what the actors hold may be the new topic's messages read at the
    // old positions; after a fatal Kafka error, another engine may own the partitions already.
    void engine.failed.then((e) => {
      const replaced = e instanceof TopicReplacedError;
      log.fatal(
        { err: e.message },
        replaced ? 'events topic replaced; exiting without a final flush' : 'exiting without a final flush',
      );
      console.error(e.message);
      process.exit(replaced ? 2 : 1);
    });
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  },
  (e: unknown) => {
    if (e instanceof ListenError || e instanceof ConfigError || e instanceof TopicReplacedError) {
      // A usage error like a bad setting or a database paired with another topic: one plain line and exit 2, as for invalid configuration.
      console.error(e.message);
      process.exit(2);
    }
    log.fatal({ err: errorText(e) }, 'engine failed to start');
    process.exit(1);
  },
);
