// Worker thread entry: the engine's sources are TypeScript, loaded through tsx (the main thread's
// loader registration does not reach workers).
import { register } from 'tsx/esm/api';

register();
await import('./engine-worker.ts');
