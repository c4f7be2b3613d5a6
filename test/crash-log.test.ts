/** The engine crash log in the data dir (electron/engine/app/crash-log.ts). */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrashLog, MAX_CRASHES_KEPT } from '../electron/engine/app/crash-log.ts';
import { tempDir } from './helpers/engine.ts';

const crash = (i: number) => ({ at: new Date(2026, 0, 1, 0, 0, i).toISOString(), cause: `crash ${i}`, runs: [{ runId: `r${i}`, nodeId: 'sampler', nodeType: 'Sampler' }] });

describe('CrashLog', () => {
  it('keeps crashes newest first, the last fifty, across instances; two at once both land', async () => {
    const file = path.join(tempDir('fs-crash-log-'), 'nested', 'engine-crashes.json');
    const log = new CrashLog(file);
    expect(await log.list()).toEqual([]);
    await Promise.all([log.add(crash(1)), log.add(crash(2))]);
    expect((await new CrashLog(file).list()).map((c) => c.cause)).toEqual(['crash 2', 'crash 1']);
    for (let i = 3; i <= MAX_CRASHES_KEPT + 5; i++) await log.add(crash(i));
    const kept = await log.list();
    expect(kept).toHaveLength(MAX_CRASHES_KEPT);
    expect(kept[0].cause).toBe(`crash ${MAX_CRASHES_KEPT + 5}`);
  });

  it('reads a damaged file as empty and starts it afresh', async () => {
    const file = path.join(tempDir('fs-crash-log-bad-'), 'engine-crashes.json');
    fs.writeFileSync(file, '{not json');
    const log = new CrashLog(file);
    expect(await log.list()).toEqual([]);
    await log.add(crash(1));
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual([crash(1)]);
    fs.writeFileSync(file, JSON.stringify([{ at: 1 }, crash(2), 'x']));
    expect(await log.list()).toEqual([crash(2)]);
  });
});
