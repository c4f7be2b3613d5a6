/**
 * The per-step fast paths equal the slow paths they replace: the unrolled ops against a float64 reference
 * summed here (each element rounded once), UniPC's fused corrector + predictor against two combine() calls,
 * the x0 conversion that folds in the finiteness scan, and the denoiser's reused input buffer.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { ModelFeed, ModelHandle, TensorInfo } from '../nodes/core/values.ts';
import { createDenoiseFn, predictionFromOutput } from '../nodes/sampling/denoiser.ts';
import { combine } from '../nodes/sampling/lambda.ts';
import { addScaled, addScaledChecked, axpby, linearCombination, scale } from '../nodes/sampling/ops.ts';
import { correctThenPredict } from '../nodes/sampling/unipc.ts';
import type { FileService, ModelService } from '../nodes/core/types.ts';
import type { Sigmas } from '../nodes/core/values.ts';
import { DeferredPrediction } from '../nodes/sampling/deferred-prediction.ts';
import { createEuler } from '../nodes/sampling/euler.ts';
import { createHeun } from '../nodes/sampling/heun.ts';
import { createSolver } from '../nodes/sampling/solver-registry.ts';
import { runSampler } from '../nodes/sampling/sampler-loop.ts';
import type { DenoiseFn } from '../nodes/sampling/solver.ts';
import { createNodeContext } from '../electron/engine/executor/run-context.ts';
import type { EngineEvent } from '../electron/engine/events.ts';

const DIMS = [2, 3, 5];

function seeded(seed: number, dims = DIMS): Tensor {
  // A small LCG (no project code): values in [-2, 2].
  const t = new Tensor(dims);
  let s = seed;
  for (let i = 0; i < t.size; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    t.data[i] = (s / 2147483648) * 4 - 2;
  }
  return t;
}

/** sum_k c_k t_k summed in float64 in term order, rounded once to float32. */
function reference(terms: [number, Tensor][]): number[] {
  const n = terms[0][1].size;
  return Array.from({ length: n }, (_, i) => {
    let acc = 0;
    for (const [c, t] of terms) acc += c * t.data[i];
    return Math.fround(acc);
  });
}

describe('ops fast paths', () => {
  const [a, b, d, e] = [seeded(1), seeded(2), seeded(3), seeded(4)];

  it('scale, addScaled, axpby and 1..4-term linearCombination equal the float64 reference bit for bit', () => {
    expect([...scale(a, 0.37).data]).toEqual(reference([[0.37, a]]));
    expect([...addScaled(a, -1.3, b).data]).toEqual(reference([[1, a], [-1.3, b]]));
    expect([...axpby(0.2, a, 0.9, b).data]).toEqual(reference([[0.2, a], [0.9, b]]));
    const terms: [number, Tensor][] = [[0.5, a], [-0.25, b], [1.75, d], [0.125, e]];
    for (let k = 1; k <= 4; k++) expect([...linearCombination(terms.slice(0, k)).data]).toEqual(reference(terms.slice(0, k)));
  });

  it('the four-at-a-time loops give every element, whatever the length modulo 4', () => {
    for (let n = 1; n <= 9; n++) {
      const [p, q, r] = [seeded(10 + n, [n]), seeded(20 + n, [n]), seeded(30 + n, [n])];
      expect([...scale(p, 0.37).data]).toEqual(reference([[0.37, p]]));
      expect([...axpby(0.2, p, 0.9, q).data]).toEqual(reference([[0.2, p], [0.9, q]]));
      expect([...linearCombination([[0.5, p], [-0.25, q], [1.75, r]]).data]).toEqual(reference([[0.5, p], [-0.25, q], [1.75, r]]));
      const checked = addScaledChecked(p, -1.3, q);
      expect([...checked.data]).toEqual(reference([[1, p], [-1.3, q]]));
      expect(checked.firstNonFinite()).toBe(-1);
      const bad = q.clone();
      bad.data[n - 1] = NaN; // the last element: in the tail loop for most n
      expect(addScaledChecked(p, -1.3, bad).firstNonFinite()).toBe(n - 1);
      expect(bad.firstNonFinite()).toBe(n - 1);
    }
  });

  it('zero coefficients skip their tensor (a NaN there does not leak), and bad input still fails clearly', () => {
    const nan = Tensor.full(DIMS, NaN);
    expect([...linearCombination([[0, nan], [2, a]]).data]).toEqual(reference([[2, a]]));
    expect([...addScaled(a, 0, nan).data]).toEqual([...a.data]);
    expect([...addScaledChecked(a, 0, nan).data]).toEqual([...a.data]);
    expect(nan.firstNonFinite()).toBe(0); // not read, so not vouched for
    expect([...axpby(0, nan, 3, b).data]).toEqual(reference([[3, b]]));
    expect([...scale(nan, 0).data].every((v) => Object.is(v, 0))).toBe(true);
    expect(() => addScaled(a, Infinity, b)).toThrow(/coefficient Infinity is not finite/);
    expect(() => axpby(1, a, 1, seeded(5, [2, 15]))).toThrow(/shape mismatch \[2, 3, 5\] vs \[2, 15\]/);
    expect(() => linearCombination([])).toThrow(/no terms/);
  });
});

describe('UniPC fused corrector + predictor', () => {
  const [last, m, m1, m2] = [seeded(11), seeded(12), seeded(13), seeded(14)];
  const corrector: [number, Tensor][] = [[0.9, last], [0.31, m], [-0.22, m1], [0.04, m2]];
  const predictor: [number, Tensor][] = [[0.55, m], [-0.12, m1]];

  it('gives the corrected sample and the next sample of two combine() calls, bit for bit', () => {
    const fused = correctThenPredict(corrector, 0.8, predictor)!;
    const x = combine(corrector);
    const next = combine([[0.8, x], ...predictor]);
    expect([...fused[0].data]).toEqual([...x.data]);
    expect([...fused[1].data]).toEqual([...next.data]);
  });

  it('the same with distinct predictor tensors (not the corrector\'s m_i and m_{i-1})', () => {
    const other: [number, Tensor][] = [[0.55, seeded(15)], [-0.12, seeded(16)]];
    const fused = correctThenPredict(corrector, 0.8, other)!;
    const x = combine(corrector);
    expect([...fused[0].data]).toEqual([...x.data]);
    expect([...fused[1].data]).toEqual([...combine([[0.8, x], ...other]).data]);
  });

  it('declines every other shape of update (the caller then runs the two combine() calls)', () => {
    expect(correctThenPredict(corrector.slice(0, 3), 0.8, predictor)).toBeUndefined();
    expect(correctThenPredict(corrector, 0.8, predictor.slice(0, 1))).toBeUndefined();
    expect(correctThenPredict(corrector, 0, predictor)).toBeUndefined();
    expect(correctThenPredict([[0, last], ...corrector.slice(1)], 0.8, predictor)).toBeUndefined();
    expect(correctThenPredict(corrector, NaN, predictor)).toBeUndefined();
  });
});

describe('x0 conversion with the finiteness scan folded in', () => {
  const x = seeded(21);
  const out = seeded(22);

  it('eps (VP) and velocity (flow) models: x0 = x - c * out exactly, both tensors known finite', () => {
    for (const [space, type, c] of [['vp', 'epsilon', 1.7], ['flow', 'flow', 0.4]] as const) {
      const o = out.clone();
      const pred = predictionFromOutput(o, x, c, space, type);
      expect([...pred.denoised.data]).toEqual(reference([[1, x], [-c, o]]));
      expect(pred.denoised.firstNonFinite()).toBe(-1);
      expect(pred.derivative.firstNonFinite()).toBe(-1);
    }
  });

  it('a non-finite model output is still found, in the output and in x0', () => {
    const bad = out.clone();
    bad.data[7] = NaN;
    const pred = predictionFromOutput(bad, x, 1.7, 'vp', 'epsilon');
    expect(pred.derivative.firstNonFinite()).toBe(7);
    expect(pred.denoised.firstNonFinite()).toBe(7);
    const huge = out.clone();
    huge.data[3] = 3e38;
    expect(predictionFromOutput(huge, x, 1e3, 'vp', 'epsilon').denoised.firstNonFinite()).toBe(3);
  });

  it('markFinite() answers without a scan; an unmarked tensor is scanned', () => {
    const t = seeded(23);
    t.data[2] = Infinity;
    expect(t.firstNonFinite()).toBe(2);
    expect(t.markFinite().firstNonFinite()).toBe(-1);
  });
});

describe('deferred x0 of eps and velocity predictions', () => {
  const x = seeded(31);
  const out = seeded(32);

  it('computes x0 and eps only when read, once, with the eager formulas (flow eps = x + (1 - t) v)', () => {
    const vp = predictionFromOutput(out, x, 1.7, 'vp', 'epsilon') as DeferredPrediction;
    expect(vp).toBeInstanceOf(DeferredPrediction);
    expect(vp.derivative).toBe(out);
    expect(vp.eps).toBe(out);
    expect(vp.denoisedComputed).toBe(false);
    const d = vp.denoised;
    expect(vp.denoisedComputed).toBe(true);
    expect(vp.denoised).toBe(d);
    expect([...d.data]).toEqual(reference([[1, x], [-1.7, out]]));
    const flow = predictionFromOutput(out, x, 0.3, 'flow', 'flow');
    expect([...flow.eps.data]).toEqual(reference([[1, x], [0.7, out]]));
    expect(flow.eps).toBe(flow.eps);
    expect([...flow.denoised.data]).toEqual(reference([[1, x], [-0.3, out]]));
  });

  it('an Euler run computes no x0 but the last one, which its result carries', async () => {
    const preds: DeferredPrediction[] = [];
    const model: DenoiseFn = async (xs, level) => {
      const p = predictionFromOutput(axpby(0.5, xs, 0, xs), xs, level.sigma, 'vp', 'epsilon') as DeferredPrediction;
      preds.push(p);
      return p;
    };
    const sigmas: Sigmas = { space: 'vp', sigmas: [3, 2, 1, 0.5], timesteps: [900, 700, 500] };
    const start = seeded(33);
    const result = await runSampler({ solver: createEuler(), sigmas, x: start, model });
    expect(preds).toHaveLength(3);
    // Only the last call's x0 is computed: the run's result carries it.
    expect(preds.map((p) => p.denoisedComputed)).toEqual([false, false, true]);
    // x_{k+1} = x_k + (s_{k+1} - s_k) * 0.5 x_k; the last call is at x_2, level 1: x0 = x_2 - 1 * 0.5 x_2.
    const states = [[...start.data]];
    for (let k = 0; k < 3; k++) {
      states.push(states[k].map((v) => Math.fround(v + (sigmas.sigmas[k + 1] - sigmas.sigmas[k]) * Math.fround(0.5 * v))));
    }
    expect([...result.x.data]).toEqual(states[3]);
    expect(result.denoised).toBe(preds[2].denoised);
    expect([...result.denoised.data]).toEqual(states[2].map((v) => Math.fround(v - 1 * Math.fround(0.5 * v))));
  });

  it('a NaN in the model output still stops the run at that step', async () => {
    const model: DenoiseFn = async (xs, level) => {
      const o = axpby(0.5, xs, 0, xs);
      if (level.timestep === 700) o.data[4] = NaN;
      return predictionFromOutput(o, xs, level.sigma, 'vp', 'epsilon');
    };
    const sigmas: Sigmas = { space: 'vp', sigmas: [3, 2, 1, 0.5], timesteps: [900, 700, 500] };
    await expect(runSampler({ solver: createEuler(), sigmas, x: seeded(34), model })).rejects.toThrow(/non-finite value \(NaN at element 4, derivative\) at step 2 of 3/);
  });
});

describe('Euler update with the non-finite scan folded in', () => {
  it('equals addScaled bit for bit and marks the output and the result finite', () => {
    const [x, d] = [seeded(41), seeded(42)];
    const r = addScaledChecked(x, -0.37, d);
    expect([...r.data]).toEqual([...addScaled(x, -0.37, d).data]);
    expect(r.firstNonFinite()).toBe(-1);
    expect(d.firstNonFinite()).toBe(-1);
  });

  it('leaves a NaN, an infinity or an overflowing result unmarked, so the check still finds it', () => {
    const x = seeded(43);
    const nan = seeded(44);
    nan.data[6] = NaN;
    expect(addScaledChecked(x, 0.5, nan).firstNonFinite()).toBe(6);
    expect(nan.firstNonFinite()).toBe(6);
    const inf = seeded(45);
    inf.data[2] = -Infinity;
    addScaledChecked(x, 0.5, inf);
    expect(inf.firstNonFinite()).toBe(2);
    const big = seeded(46);
    big.data[1] = 3e38;
    const over = addScaledChecked(x, 1e3, big);
    expect(over.firstNonFinite()).toBe(1);
    expect(big.firstNonFinite()).toBe(-1); // finite itself, though the (scanned) result is not
  });
});

describe('the sampler loop\'s non-finite check, after each step', () => {
  const sigmas: Sigmas = { space: 'vp', sigmas: [3, 2, 1, 0.5], timesteps: [900, 700, 500] };
  const nanAt = (timestep: number): DenoiseFn => async (xs, level) => {
    const o = axpby(0.5, xs, 0, xs);
    if (level.timestep === timestep) o.data[0] = NaN;
    return predictionFromOutput(o, xs, level.sigma, 'vp', 'epsilon');
  };

  it('names the step for a solver that makes two calls a step (Heun), and for one that reads x0 (DPM++ 2M)', async () => {
    await expect(runSampler({ solver: createHeun(), sigmas, x: seeded(47), model: nanAt(700) })).rejects.toThrow(/non-finite value \(NaN at element 0, (x0 prediction|derivative)\) at step 1 of 3/);
    await expect(runSampler({ solver: createSolver('dpmpp_2m'), sigmas, x: seeded(48), model: nanAt(500) })).rejects.toThrow(/non-finite value \(NaN at element 0, x0 prediction\) at step 3 of 3/);
  });

  it('a cancel during a step stays a cancel, even after a NaN', async () => {
    let calls = 0;
    const model: DenoiseFn = async (xs, level) => {
      if (++calls === 2) throw new DOMException('The run was cancelled', 'AbortError');
      return nanAt(level.timestep)(xs, level);
    };
    await expect(runSampler({ solver: createHeun(), sigmas, x: seeded(49), model })).rejects.toThrow(/cancelled/);
  });
});

describe('progress previews given as functions', () => {
  it('are called only when a preview is sent: at most one per interval, and always the last step', () => {
    const events: EngineEvent[] = [];
    const node = createNodeContext(
      { runId: 'r', signal: new AbortController().signal, models: {} as ModelService, files: () => ({}) as FileService, graph: null, emit: (e) => events.push(e) },
      'n',
      'Sampler',
    );
    let calls = 0;
    const preview = () => {
      calls++;
      return seeded(35);
    };
    for (let step = 1; step <= 50; step++) node.ctx.progress(step, 50, preview);
    const sent = events.filter((e) => e.type === 'node-preview');
    expect(calls).toBe(sent.length);
    expect(calls).toBeLessThan(50); // fifty calls take far less than PREVIEW_INTERVAL_MS
    expect(sent.at(-1)).toMatchObject({ step: 50 });
    expect(events.filter((e) => e.type === 'node-progress')).toHaveLength(50);
  });
});

describe('denoiser input buffer', () => {
  function handle(delay: () => Promise<void>): ModelHandle & { seen: number[][] } {
    const inputs: TensorInfo[] = [
      { name: 'sample', type: 'float32', shape: ['batch', 3, 5] },
      { name: 'timestep', type: 'float32', shape: [1] },
    ];
    const seen: number[][] = [];
    return {
      key: 'k',
      name: 'k',
      folder: '/k',
      modelIndex: {},
      scheduler: {},
      denoiserKind: 'unet',
      seen,
      denoiser: {
        file: '/k/unet/model.onnx',
        provider: 'cpu',
        inputs,
        outputs: [{ name: 'out', type: 'float32', shape: ['batch', 3, 5] }],
        async run(f: Record<string, ModelFeed>) {
          await delay();
          // Read the feed only after other calls had the chance to write a shared buffer.
          seen.push([...(f.sample.data as Float32Array), ...(f.timestep.data as Float32Array)]);
          return { out: new Tensor(f.sample.dims, new Float32Array(f.sample.data.length)) };
        },
      },
    };
  }
  // The scaled sample, then the timestep the call was made with.
  const expected = (x: Tensor, s: number, t: number) => [...scale(x, 1 / Math.sqrt(s * s + 1)).data, t];

  it('sequential calls each feed their own scaled sample and timestep', async () => {
    const h = handle(() => Promise.resolve());
    const fn = createDenoiseFn(h, { space: 'vp' });
    const [x1, x2] = [seeded(31), seeded(32)];
    await fn(x1, { sigma: 3, timestep: 900 });
    await fn(x2, { sigma: 0.5, timestep: 100 });
    expect(h.seen).toEqual([expected(x1, 3, 900), expected(x2, 0.5, 100)]);
  });

  it('overlapping calls never share a sample or timestep buffer', async () => {
    const h = handle(() => new Promise((r) => setTimeout(r, 5)));
    const fn = createDenoiseFn(h, { space: 'vp' });
    const [x0, x1, x2] = [seeded(35), seeded(33), seeded(34)];
    await fn(x0, { sigma: 4, timestep: 950 }); // leaves a buffer to reuse
    await Promise.all([fn(x1, { sigma: 2, timestep: 800 }), fn(x2, { sigma: 1, timestep: 500 })]);
    expect(h.seen).toEqual([expected(x0, 4, 950), expected(x1, 2, 800), expected(x2, 1, 500)]);
  });
});
