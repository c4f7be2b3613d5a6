import fs from 'node:fs';
import { comfyModelSampling, kSamplerLevels } from '../nodes/sampling/comfy-schedules.ts';
const r = JSON.parse(fs.readFileSync('/tmp/lv.json', 'utf8'));
const ms = comfyModelSampling({ beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear' } as any, 'vp');
const stat: Record<string, { grids: number; exactGrids: number; bad: string[] }> = {};
for (const [k, v] of Object.entries(r) as [string, number[]][]) {
  const [sch, n] = k.split('-');
  const lv = kSamplerLevels(ms, sch as any, Number(n), { denoise: 1 });
  const bad = lv.map((x: number, i: number) => (x === v[i] ? -1 : i)).filter((i: number) => i >= 0);
  const s = (stat[sch] ??= { grids: 0, exactGrids: 0, bad: [] });
  s.grids++;
  if (bad.length === 0) s.exactGrids++; else if (s.bad.length < 6) s.bad.push(`${n}:${bad.join(',')}`);
}
console.log(stat);
