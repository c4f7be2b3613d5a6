// Engine process entry (a Node child process or an Electron utility process): the engine's sources are
// TypeScript, loaded through tsx's ESM loader as every other entry point does.
import { register } from 'tsx/esm/api';

register();
await import('./engine-process.ts');
