/**
 * Writes a file so readers never see it half written: the bytes go to a temporary file in the same
 * folder (same filesystem, so the rename is atomic) which then replaces the target.
 */
import { randomBytes } from 'node:crypto';
import { rename, unlink, writeFile } from 'node:fs/promises';

export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    // 'wx' refuses to reuse an existing path, so a planted symlink at the temp name is not followed.
    await writeFile(temp, bytes, { flag: 'wx' });
    await rename(temp, path);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
}
