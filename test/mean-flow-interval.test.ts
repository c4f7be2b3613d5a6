import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { ModelFeed, ModelHandle, Sigmas } from '../nodes/core/values.ts';
import { createDenoiseFn, predictionFromOutput } from '../nodes/sampling/denoiser.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import { sliceSigmas, splitSigmasAt } from '../nodes/sampling/sigmas-split.ts';
import { createSolver } from '../nodes/sampling/solver-registry.ts';
import { levelAt, type DenoiseFn, type ModelLevel } from '../nodes/sampling/solver.ts';
import { SCHEDULERS } from './helpers/twins.ts';

// A mean-flow network's interval end (timestep_r): what the denoiser feeds for each kind of model call.
const dims = [1, 4, 2, 2];

/** A HunyuanImage-distilled-like flow model that records its timestep and timestep_r feeds and outputs zeros. */
function recordingModel(): { handle: ModelHandle; seen: [number, number][] } {
  const seen: [number, number][] = [];
  const handle: ModelHandle = {
    key: 'fake:meanflow',
    name: 'meanflow',
    folder: '/fake',
    modelIndex: { _class_name: 'HunyuanImagePipeline' },
    scheduler: SCHEDULERS.hunyuanImage,
    denoiserKind: 'transformer',
    denoiser: {
      file: '/fake/transformer/model.onnx',
      provider: 'cpu',
      inputs: [
        { name: 'hidden_states', type: 'float32', shape: ['batch', 4, 2, 2] },
        { name: 'timestep', type: 'float32', shape: ['batch'] },
        { name: 'timestep_r', type: 'float32', shape: ['batch'] },
      ],
      outputs: [{ name: 'out', type: 'float32', shape: ['batch', 4, 2, 2] }],
      async run(feeds: Record<string, ModelFeed>) {
        seen.push([Number(feeds.timestep.data[0]), Number(feeds.timestep_r.data[0])]);
        return { out: new Tensor(feeds.hidden_states.dims) };
      },
    },
  };
  return { handle, seen };
}

const grid = (levels: number[], timesteps: number[]): Sigmas => ({ space: 'flow', sigmas: levels, timesteps });

describe('mean-flow interval end (timestep_r)', () => {
  it('the next level on a step, 0 at the schedule end wherever it ends, r = t between levels and on upward steps', async () => {
    const { handle, seen } = recordingModel();
    const fn = createDenoiseFn(handle, { space: 'flow' });
    const x = new Tensor(dims);
    const calls: ModelLevel[] = [
      { sigma: 0.8, timestep: 800, nextSigma: 0.5, nextTimestep: 500 },
      { sigma: 0.5, timestep: 500, nextSigma: 0.1 }, // the schedule's last step, ending above 0
      { sigma: 0.6, timestep: 600 }, // a level between grid levels
      { sigma: 0.2, timestep: 200, nextSigma: 0.4, nextTimestep: 400 }, // inversion, upwards
    ];
    for (const level of calls) await fn(x, level);
    expect(seen).toEqual([
      [800, 500],
      [500, 0],
      [600, 600],
      [200, 200],
    ]);
  });

  it("Heun's corrector at the step's target gets r = t, not the level after it", async () => {
    const levels: ModelLevel[] = [];
    const model: DenoiseFn = async (x, level) => {
      levels.push(level);
      return predictionFromOutput(new Tensor(x.dims), x, level.sigma, 'flow', 'flow');
    };
    const sigmas = grid([1, 0.75, 0.5, 0], [1000, 750, 500]);
    await runSampler({ solver: createSolver('heun', SCHEDULERS.hunyuanImage, {}), sigmas, x: new Tensor(dims), model });
    // Step 0: first call at 1 (next 0.75), corrector at 0.75; step 1 likewise; step 2 lands on 0 (one call).
    expect(levels.map((l) => [l.sigma, l.nextSigma])).toEqual([
      [1, 0.75],
      [0.75, undefined],
      [0.75, 0.5],
      [0.5, undefined],
      [0.5, 0],
    ]);
  });

  it('a split schedule keeps the whole grid\'s timestep at its boundary', () => {
    const whole = grid([1, 0.9375, 0.8333, 0.625, 0], [1000, 937.50006, 833.333, 625]);
    const { high, low } = splitSigmasAt(whole, 2);
    expect(high.endTimestep).toBe(833.333);
    expect(levelAt(high, 1)).toEqual(levelAt(whole, 1));
    expect(levelAt(low, 1)).toEqual(levelAt(whole, 3));
    expect(low.endTimestep).toBeUndefined();
    // A part of a part ends where the whole grid's step does.
    expect(levelAt(sliceSigmas(low, 0, 1), 0)).toEqual(levelAt(whole, 2));
  });
});
