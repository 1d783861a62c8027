import { loadEngineConfig, ConfigError } from './config/env.js';
import { startEngine } from './engine.js';
import { createLogger } from './logging/logger.js';
import { applyStackEnv } from './stack/env-file.js';

applyStackEnv();
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
          log.error({ err: e instanceof Error ? e.message : String(e) }, 'error while stopping');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  },
  (e: unknown) => {
    log.fatal({ err: e instanceof Error ? e.message : String(e) }, 'engine failed to start');
    process.exit(1);
  },
);
