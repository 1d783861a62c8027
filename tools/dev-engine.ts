// `npm run dev`: the engine from source, with the local stack's addresses (.stack/env, written by `npm run stack`)
// filling whatever the environment leaves unset. The engine itself (`npm start`, the image) reads the environment only.
import { applyStackEnv } from './stack/env-file.js';

applyStackEnv();
await import('../src/main.js');
