/** Port value summaries (electron/engine/summary.ts): what the CLI prints and the editor's output panel lists. */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import { SIGMAS_SUMMARY_LIMIT, summarizeValue } from '../electron/engine/summary.ts';
import { buildSigmas } from '../nodes/sampling/schedules.ts';

const SD = { _class_name: 'EulerDiscreteScheduler', beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000 };

describe('summarizeValue', () => {
  it('a tensor: dims, min, max and mean', () => {
    expect(summarizeValue(new Tensor([2, 2], Float32Array.from([1, -3, 2, 4])))).toEqual({ kind: 'tensor', dims: [2, 2], min: -3, max: 4, mean: 1 });
  });

  it('a schedule: its ends, and each step\'s level and model timestep for the output panel', () => {
    const s = buildSigmas(SD, {}, 6, 'euler');
    const v = summarizeValue(s);
    expect(v).toEqual({ kind: 'sigmas', space: 'vp', steps: 6, first: s.sigmas[0], last: 0, levels: s.sigmas, timesteps: s.timesteps });
  });

  it('a very long schedule lists its first steps only', () => {
    const n = SIGMAS_SUMMARY_LIMIT + 5;
    const levels = Array.from({ length: n + 1 }, (_, k) => (n - k) / n);
    const v = summarizeValue({ space: 'flow', sigmas: levels, timesteps: levels.slice(0, -1).map((l) => l * 1000) });
    if (v.kind !== 'sigmas') throw new Error(`expected a sigmas summary, got ${v.kind}`);
    expect(v.steps).toBe(n);
    expect(v.timesteps).toHaveLength(SIGMAS_SUMMARY_LIMIT);
    expect(v.levels).toHaveLength(SIGMAS_SUMMARY_LIMIT + 1);
    expect(v.last).toBe(0);
  });
});
