import { afterAll, beforeAll } from 'vitest';
import { engineEnv, startEngineProcess, type EngineProcess } from './engine-process.js';
import { freshDatabase, freshTopic } from './stack.js';

/** What engineSuite starts; its fields are set once the suite's first beforeAll has run. */
export interface EngineSuite {
  db: Awaited<ReturnType<typeof freshDatabase>>;
  topic: string;
  engine: EngineProcess;
  /** http://127.0.0.1:<the engine's port> */
  base: string;
}

/**
 * One engine for a describe block, on a database and topic of its own: started before the block's tests
 * (before the block's own beforeAll hooks, registered after this call), killed and its database dropped after
 * them. `env`: the engine's extra settings, asked for when it starts.
 */
export function engineSuite(o: { partitions: number; env?: () => Record<string, string> }): EngineSuite {
  const suite = {} as EngineSuite;
  beforeAll(async () => {
    suite.db = await freshDatabase();
    ({ topic: suite.topic } = await freshTopic(o.partitions));
    suite.engine = await startEngineProcess(engineEnv(suite.topic, suite.db.url, o.env?.() ?? {}));
    suite.base = `http://127.0.0.1:${suite.engine.port()}`;
  });
  afterAll(async () => {
    await suite.engine?.stop('SIGKILL');
    await suite.db?.drop();
  });
  return suite;
}
