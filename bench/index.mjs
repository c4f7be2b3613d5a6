// `npm run bench`: loads the TypeScript sources the way the product's entry points do (bin/flowstudio.js,
// the engine worker): tsx's ESM loader only. Running `tsx bench/run.ts` would also install tsx's require
// hook, and loading CommonJS packages (onnxruntime-node, protobufjs, ...) through it slows every
// typed-array loop in the process by about a third here, as detaching an ArrayBuffer does (V8 then
// checks for detached buffers on every access): the bench would time a handicap the product does not have.
import { register } from 'tsx/esm/api';

register();
await import('./run.ts');
