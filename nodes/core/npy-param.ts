/**
 * Reading the .npy file a node's file param names: the path goes through the engine's checks (allowed
 * roots, no escapes), and every failure is a NodeInputError naming the param and the file.
 */
import { readFile, stat } from 'node:fs/promises';
import { readNpy } from './io/npy.ts';
import type { Tensor } from './tensor.ts';
import { NodeInputError, type ExecContext } from './types.ts';

export async function readNpyParam(ctx: Pick<ExecContext, 'files'>, path: string, what: string, param = 'path'): Promise<Tensor> {
  if (!path) throw new NodeInputError(`No .npy file chosen (param "${param}" is empty)`);
  const file = ctx.files.resolveRead(path);
  try {
    return readNpy(await readFile(file));
  } catch (e) {
    throw new NodeInputError(`Cannot load ${what} from "${path}": ${(e as Error).message}`);
  }
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
