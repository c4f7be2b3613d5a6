/**
 * Reading the .npy file a node's file param names: the path goes through the engine's checks (allowed
 * roots, no escapes), and every failure is a NodeInputError naming the param and the file.
 */
import { readFile, stat } from 'node:fs/promises';
import { readNpy } from './io/npy.ts';
import type { Tensor } from './tensor.ts';
import { NodeInputError, type ExecContext } from './types.ts';

export async function readNpyParam(ctx: Pick<ExecContext, 'files'>, path: string, what: string, param = 'path', values: NpyValues = 'finite'): Promise<Tensor> {
  if (!path) throw new NodeInputError(`No .npy file chosen (param "${param}" is empty)`);
  const file = ctx.files.resolveRead(path);
  let t: Tensor;
  try {
    t = readNpy(await readFile(file));
  } catch (e) {
    throw new NodeInputError(`Cannot load ${what} from "${path}": ${(e as Error).message}`);
  }
  // Caught here, the cause is the file; caught later, a NaN shows up as a model output or a node's result.
  const bad = firstRefused(t.data, values);
  if (bad >= 0) {
    throw new NodeInputError(`Cannot load ${what} from "${path}": element ${bad} of ${t.shapeString()} is ${t.data[bad]}${values === 'no-nan' ? '' : ' (the file must hold finite numbers)'}`);
  }
  return t;
}

/**
 * Which values a file may hold: finite numbers (latents, noise), or anything but NaN (conditioning: an additive
 * attention mask may hold -inf).
 */
export type NpyValues = 'finite' | 'no-nan';

function firstRefused(data: Float32Array, values: NpyValues): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (values === 'finite' ? !Number.isFinite(v) : Number.isNaN(v)) return i;
  }
  return -1;
}

/** size:mtime of a resolved file, or a marker when it cannot be resolved (execute then reports why). */
export async function fileStamp(resolvePath: () => string): Promise<string> {
  try {
    const s = await stat(resolvePath());
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return 'unresolved';
  }
}
