/**
 * The parameterization wrapper: every prediction type converts to the same (x0, eps, derivative) for a
 * state built from known x0 and eps (exact algebra, fact sheet section 1); prediction overrides, timestep
 * dtypes, input scaling, and x0 limits (clip_sample, dynamic thresholding) against hand-computed values.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../nodes/core/tensor.ts';
import type { ModelFeed, ModelHandle, TensorInfo } from '../nodes/core/values.ts';
import {
  createDenoiseFn,
  denoisedLimitFromConfig,
  limitDenoisedTensor,
  limitPrediction,
  parsePredictionType,
  predictionFromOutput,
  predictionType,
  timestepFeed,
  type PredictionType,
} from '../nodes/sampling/denoiser.ts';

const DIMS = [2, 3, 4];
function seeded(n: number, seed: number): Float64Array {
  // A small LCG: deterministic values in [-2, 2] (no project code involved).
  const out = new Float64Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = (s / 2147483648) * 4 - 2;
  }
  return out;
}
const N = DIMS.reduce((a, b) => a * b, 1);
const X0 = seeded(N, 1);
const EPS = seeded(N, 2);
const t32 = (v: ArrayLike<number>) => new Tensor(DIMS, Float32Array.from(v));

function maxErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('VP parameterizations in VE sampling variables', () => {
  // VE level s: alpha = 1/sqrt(s^2+1), sigma_vp = s alpha; x_vp = alpha x0 + sigma_vp eps; x_ve = x0 + s eps.
  for (const s of [0.05, 1.3, 14.6]) {
    it(`eps, x0 and v outputs all give x0, eps and derivative = eps at sigma ${s}`, () => {
      const alpha = 1 / Math.sqrt(s * s + 1);
      const sv = s * alpha;
      const x = t32(X0.map((d, i) => d + s * EPS[i]));
      const outputs: Record<string, ArrayLike<number>> = {
        epsilon: EPS,
        sample: X0,
        v_prediction: X0.map((d, i) => alpha * EPS[i] - sv * d),
      };
      for (const [type, out] of Object.entries(outputs)) {
        const p = predictionFromOutput(t32(out), x, s, 'vp', type as PredictionType);
        const tol = 2e-6 * (1 + s);
        expect(maxErr(p.denoised.data, X0)).toBeLessThan(tol);
        expect(maxErr(p.eps.data, EPS)).toBeLessThan(tol);
        expect(maxErr(p.derivative.data, EPS)).toBeLessThan(tol);
      }
    });
  }

  it('flow velocity on a VP model is refused', () => {
    expect(() => predictionFromOutput(t32(EPS), t32(X0), 1, 'vp', 'flow')).toThrow(/flow-matching model/);
  });
});

describe('flow parameterizations', () => {
  for (const t of [0.1, 0.5, 0.93]) {
    it(`velocity, eps and x0 outputs give x0, eps and v = eps - x0 at t = ${t}`, () => {
      const x = t32(X0.map((d, i) => (1 - t) * d + t * EPS[i]));
      const v = X0.map((d, i) => EPS[i] - d);
      const outputs: Record<string, ArrayLike<number>> = { flow: v, epsilon: EPS, sample: X0 };
      for (const [type, out] of Object.entries(outputs)) {
        const p = predictionFromOutput(t32(out), x, t, 'flow', type as PredictionType);
        const tol = 2e-6 / Math.min(t, 1 - t);
        expect(maxErr(p.denoised.data, X0)).toBeLessThan(tol);
        expect(maxErr(p.eps.data, EPS)).toBeLessThan(tol);
        expect(maxErr(p.derivative.data, v)).toBeLessThan(tol);
      }
    });
  }

  it('refuses conversions that have no answer', () => {
    expect(() => predictionFromOutput(t32(EPS), t32(X0), 1, 'flow', 'epsilon')).toThrow(/t = 1/);
    expect(() => predictionFromOutput(t32(EPS), t32(X0), 0, 'flow', 'sample')).toThrow(/t = 0/);
    expect(() => predictionFromOutput(t32(EPS), t32(X0), 0.5, 'flow', 'v_prediction')).toThrow(/VP models/);
  });
});

describe('prediction type resolution', () => {
  it('reads the config, accepts diffusers\' flow_prediction, and lets an override win', () => {
    expect(predictionType({ scheduler: {} }, 'vp')).toBe('epsilon');
    expect(predictionType({ scheduler: { prediction_type: 'v_prediction' } }, 'vp')).toBe('v_prediction');
    expect(predictionType({ scheduler: {} }, 'flow')).toBe('flow');
    expect(predictionType({ scheduler: { prediction_type: 'flow_prediction' } }, 'flow')).toBe('flow');
    expect(predictionType({ scheduler: { prediction_type: 'epsilon' } }, 'flow')).toBe('epsilon');
    // FlowMatch classes have no such key: a stray one is ignored, as diffusers' from_config does.
    expect(predictionType({ scheduler: { _class_name: 'FlowMatchEulerDiscreteScheduler', prediction_type: 'epsilon' } }, 'flow')).toBe('flow');
    expect(predictionType({ scheduler: { prediction_type: 'epsilon' } }, 'vp', 'sample')).toBe('sample');
    expect(() => predictionType({ scheduler: { prediction_type: 'noise' } }, 'vp')).toThrow(/unknown prediction type "noise"/);
    expect(() => predictionType({ scheduler: {} }, 'vp', 'flow')).toThrow(/VP model/);
    expect(parsePredictionType('flow_prediction')).toBe('flow');
  });
});

describe('timestep feeds', () => {
  it('int64 truncates toward zero, float32/float16 keep the value, shape follows the input', () => {
    const i64 = timestepFeed({ name: 't', type: 'int64', shape: [1] }, 999.7, 2);
    expect(i64.type).toBe('int64');
    expect([...(i64.data as BigInt64Array)]).toEqual([999n]);
    const f32 = timestepFeed({ name: 't', type: 'float32', shape: ['batch'] }, 832.5, 2);
    expect(f32.dims).toEqual([2]);
    expect([...f32.data]).toEqual([832.5, 832.5]);
    const f16 = timestepFeed({ name: 't', type: 'float16', shape: [] }, 0.75, 1);
    expect(f16.type).toBe('float16');
    expect(f16.dims).toEqual([]);
    expect([...f16.data]).toEqual([0.75]);
    expect(() => timestepFeed({ name: 't', type: 'float32', shape: [1, 1] }, 1, 1)).toThrow(/rank 2/);
  });
});

/** A handle whose network records its feeds and returns a fixed output. */
function recordingModel(
  timestepType: string,
  output: Float64Array,
  scheduler: Record<string, unknown> = {},
  more: { sample?: TensorInfo['shape']; timestep?: TensorInfo['shape']; extra?: TensorInfo[] } = {},
): ModelHandle & { feeds: Record<string, ModelFeed>[] } {
  const inputs: TensorInfo[] = [
    { name: 'sample', type: 'float32', shape: more.sample ?? ['batch', 3, 4] },
    { name: 'timestep', type: timestepType, shape: more.timestep ?? [1] },
    ...(more.extra ?? []),
  ];
  const feeds: Record<string, ModelFeed>[] = [];
  return {
    key: 'rec',
    name: 'rec',
    folder: '/rec',
    modelIndex: {},
    scheduler,
    denoiserKind: 'unet',
    feeds,
    denoiser: {
      file: '/rec/unet/model.onnx',
      provider: 'cpu',
      inputs,
      outputs: [{ name: 'out', type: 'float32', shape: ['batch', 3, 4] }],
      async run(f) {
        feeds.push(f);
        return { out: t32(output) };
      },
    },
  };
}

describe('createDenoiseFn', () => {
  it('scales the VE state by 1/sqrt(s^2+1), feeds the declared timestep dtype, applies the override', async () => {
    const s = 2;
    const model = recordingModel('int64', X0);
    const x = t32(X0.map((d, i) => d + s * EPS[i]));
    const fn = createDenoiseFn(model, { space: 'vp', predictionType: 'sample' });
    const p = await fn(x, { sigma: s, timestep: 500.9 });
    const sample = model.feeds[0].sample;
    expect(maxErr(sample.data as Float32Array, x.data.map((v) => v / Math.sqrt(5)))).toBeLessThan(1e-6);
    expect([...(model.feeds[0].timestep.data as BigInt64Array)]).toEqual([500n]);
    expect(maxErr(p.eps.data, EPS)).toBeLessThan(1e-5);
  });

  it('applies an x0 limit when asked (eps recomputed from the clipped x0)', async () => {
    const model = recordingModel('float32', X0);
    const x = t32(X0.map((d, i) => d + EPS[i]));
    const fn = createDenoiseFn(model, { space: 'vp', predictionType: 'sample', limit: { limit: { kind: 'clip', range: 1 } } });
    const p = await fn(x, { sigma: 1, timestep: 100 });
    expect(Math.max(...p.denoised.data.map(Math.abs))).toBeLessThanOrEqual(1);
    // eps = (x - x0') / sigma.
    expect(maxErr(p.eps.data, x.data.map((v, i) => v - p.denoised.data[i]))).toBeLessThan(1e-6);
  });
});

describe('createDenoiseFn: what each input must be, checked before the network is called', () => {
  const level = { sigma: 1, timestep: 100 };
  const x = t32(X0);
  const text: TensorInfo = { name: 'encoder_hidden_states', type: 'float32', shape: ['batch', 7, 8] };
  const ids: TensorInfo = { name: 'img_ids', type: 'float32', shape: [5, 3] };

  it('names every input no conditioning gives, and what to connect', () => {
    const model = recordingModel('float32', X0, {}, { extra: [text, ids] });
    expect(() => createDenoiseFn(model, { space: 'vp' })).toThrow(
      'missing input "encoder_hidden_states" [batch, 7, 8], "img_ids" [5, 3]: the model takes them besides its sample and timestep, and no conditioning is connected; connect a conditioning that holds them',
    );
    const partial = { feeds: { encoder_hidden_states: Tensor.zeros([2, 7, 8]) } };
    expect(() => createDenoiseFn(model, { space: 'vp', conditioning: partial })).toThrow(/missing input "img_ids" \[5, 3\]: the model takes it besides .* the conditioning gives only "encoder_hidden_states"/);
    const full = { feeds: { encoder_hidden_states: Tensor.zeros([2, 7, 8]), img_ids: Tensor.zeros([5, 3]) } };
    expect(() => createDenoiseFn(model, { space: 'vp', conditioning: full })).not.toThrow();
  });

  it('refuses conditioning that does not fit its input: rank, a fixed dim, or a named dim the latent sizes otherwise', async () => {
    const model = recordingModel('float32', X0, {}, { extra: [text, ids] });
    const run = (feeds: Record<string, Tensor>) => createDenoiseFn(model, { space: 'vp', conditioning: { feeds } })(x, level);
    await expect(run({ encoder_hidden_states: Tensor.zeros([2, 7]), img_ids: Tensor.zeros([5, 3]) })).rejects.toThrow(
      'conditioning input "encoder_hidden_states" [2, 7] does not fit the model input\'s shape [batch, 7, 8]',
    );
    await expect(run({ encoder_hidden_states: Tensor.zeros([2, 7, 8]), img_ids: Tensor.zeros([4, 3]) })).rejects.toThrow(/conditioning input "img_ids" \[4, 3\] does not fit the model input's shape \[5, 3\]/);
    // The latent holds 2 samples along "batch"; three prompts do not fit.
    await expect(run({ encoder_hidden_states: Tensor.zeros([3, 7, 8]), img_ids: Tensor.zeros([5, 3]) })).rejects.toThrow(
      'conditioning input "encoder_hidden_states" [3, 7, 8] has 3 along the model\'s "batch" axis (axis 0 of input "encoder_hidden_states" [batch, 7, 8]), where the latent [2, 3, 4] has 2',
    );
    expect(model.feeds).toHaveLength(0);
    await run({ encoder_hidden_states: Tensor.zeros([2, 7, 8]), img_ids: Tensor.zeros([5, 3]) });
    expect(model.feeds).toHaveLength(1);
  });

  it('a conditioning for the sample or timestep input is refused (the sampler feeds those)', () => {
    const model = recordingModel('float32', X0);
    expect(() => createDenoiseFn(model, { space: 'vp', conditioning: { feeds: { timestep: Tensor.zeros([1]) } } })).toThrow(/"timestep" is the network's timestep input, which the sampler feeds/);
    expect(() => createDenoiseFn(model, { space: 'vp', conditioning: { feeds: { sample: Tensor.zeros([2, 3, 4]) } } })).toThrow(/"sample" is the network's sample input/);
  });

  it('a named dim used twice in the sample input ties those axes', async () => {
    const square = recordingModel('float32', X0, {}, { sample: ['batch', 's', 's'] });
    await expect(createDenoiseFn(square, { space: 'vp' })(x, level)).rejects.toThrow(
      'latent shape [2, 3, 4] does not match the model input "sample" shape [batch, s, s]: its axes 1 and 2 are both "s", so they must be equal (got 3 and 4)',
    );
    const free = recordingModel('float32', X0, {}, { sample: [-1, 's', -1] });
    await createDenoiseFn(free, { space: 'vp' })(x, level);
    expect(free.feeds).toHaveLength(1);
  });
});

describe('x0 limits', () => {
  it('dynamic thresholding per sample: s = quantile(|x0|, ratio) in [1, max], x0 = clamp(x0, -s, s) / s', () => {
    // Sample 0: |x| sorted 0.5, 1, 2, 3; quantile 0.5 at position 1.5 -> 1.5. Sample 1: all small -> s = 1.
    const x0 = new Tensor([2, 4], Float32Array.from([-3, -1, 0.5, 2, 0.2, -0.4, 0.1, 0.3]));
    const out = limitDenoisedTensor(x0, { kind: 'threshold', ratio: 0.5, maxValue: 1.8 });
    const expected = [-1, -1 / 1.5, 0.5 / 1.5, 1, 0.2, -0.4, 0.1, 0.3];
    expect(maxErr(out.data, expected)).toBeLessThan(1e-7);
    // sample_max_value caps s: with max 1.2, s = 1.2.
    const capped = limitDenoisedTensor(x0, { kind: 'threshold', ratio: 0.5, maxValue: 1.2 });
    expect(capped.data[0]).toBeCloseTo(-1, 6);
    expect(capped.data[2]).toBeCloseTo(0.5 / 1.2, 6);
  });

  it('clip_sample clamps to the range', () => {
    const out = limitDenoisedTensor(new Tensor([3], Float32Array.from([-2, 0.5, 3])), { kind: 'clip', range: 1.5 });
    expect([...out.data]).toEqual([-1.5, 0.5, 1.5]);
  });

  it('limitPrediction keeps eps for DDIM and recomputes it otherwise (VE and flow)', () => {
    const x0 = t32(X0.map((v) => 3 * v));
    const x = t32(X0.map((v, i) => 3 * v + 0.5 * EPS[i]));
    const pred = { denoised: x0, eps: t32(EPS), derivative: t32(EPS) };
    const kept = limitPrediction(pred, x, 0.5, 'vp', { limit: { kind: 'clip', range: 1 }, keepEps: true });
    expect(kept.eps).toBe(pred.eps);
    const ve = limitPrediction(pred, x, 0.5, 'vp', { limit: { kind: 'clip', range: 1 } });
    expect(maxErr(ve.eps.data, x.data.map((v, i) => (v - ve.denoised.data[i]) / 0.5))).toBeLessThan(1e-5);
    const fl = limitPrediction(pred, x, 0.5, 'flow', { limit: { kind: 'clip', range: 1 } });
    // x = (1 - t) x0' + t eps'  and  v' = eps' - x0'.
    const rebuilt = fl.denoised.data.map((d, i) => 0.5 * d + 0.5 * fl.eps.data[i]);
    expect(maxErr(rebuilt, x.data)).toBeLessThan(1e-5);
    expect(maxErr(fl.derivative.data, fl.eps.data.map((e, i) => e - fl.denoised.data[i]))).toBeLessThan(1e-5);
  });

  it('per scheduler class from the config', () => {
    expect(denoisedLimitFromConfig({ _class_name: 'DDIMScheduler' }, 'ddim')).toEqual({ limit: { kind: 'clip', range: 1 }, keepEps: true });
    // DDIMScheduler.from_config on a config without clip_sample (an SDXL Euler config) clips: the class default.
    expect(denoisedLimitFromConfig({ _class_name: 'EulerDiscreteScheduler' }, 'ddim')).toEqual({ limit: { kind: 'clip', range: 1 }, keepEps: true });
    expect(denoisedLimitFromConfig({ _class_name: 'EulerDiscreteScheduler', clip_sample: false }, 'ddim')).toBeUndefined();
    expect(denoisedLimitFromConfig({ _class_name: 'FlowMatchEulerDiscreteScheduler' }, 'ddim')).toBeUndefined();
    expect(denoisedLimitFromConfig({ _class_name: 'DDIMScheduler', thresholding: true, sample_max_value: 2 }, 'ddim')?.limit).toEqual({
      kind: 'threshold',
      ratio: 0.995,
      maxValue: 2,
    });
    expect(denoisedLimitFromConfig({ clip_sample: true, clip_sample_range: 2 }, 'heun')).toEqual({ limit: { kind: 'clip', range: 2 } });
    expect(denoisedLimitFromConfig({ thresholding: true }, 'dpmpp_2m')?.limit.kind).toBe('threshold');
    expect(denoisedLimitFromConfig({ clip_sample: true }, 'dpmpp_2m')).toBeUndefined();
    expect(denoisedLimitFromConfig({ clip_sample: true, thresholding: true }, 'euler')).toBeUndefined();
  });
});

describe('learned variance (variance_type learned / learned_range; PixArt and DiT learn sigma)', () => {
  it('keeps the prediction half of a [prediction; variance] output, per batch item, whatever the config says', async () => {
    const dims = [2, 1, 2, 2];
    const eps = Float32Array.from({ length: 8 }, (_, i) => 0.1 * (i + 1));
    const junk = 100;
    const model = (variance: string | undefined): ModelHandle => ({
      key: 'k', name: 'if', folder: '/f', modelIndex: {}, denoiserKind: 'unet',
      scheduler: { _class_name: 'DPMSolverMultistepScheduler', ...(variance ? { variance_type: variance } : {}) },
      denoiser: {
        file: '/f/unet/model.onnx', provider: 'cpu',
        inputs: [{ name: 'sample', type: 'float32', shape: ['batch', 1, 2, 2] }, { name: 'timestep', type: 'float32', shape: [1] }],
        outputs: [{ name: 'out_sample', type: 'float32', shape: ['batch', 2, 2, 2] }],
        async run() {
          // [eps_b0 (4), var_b0 (4), eps_b1 (4), var_b1 (4)]
          const out = new Float32Array(16).fill(junk);
          out.set(eps.subarray(0, 4), 0);
          out.set(eps.subarray(4, 8), 8);
          return { out_sample: new Tensor([2, 2, 2, 2], out) };
        },
      },
    });
    const x = new Tensor(dims, new Float32Array(8).fill(1));
    // PixArt / DiT pipelines split by the transformer's out_channels (twice the latent's), not by the scheduler
    // config, whose variance_type is often unset there.
    for (const variance of ['learned', 'learned_range', undefined]) {
      const pred = await createDenoiseFn(model(variance), { space: 'vp' })(x, { sigma: 1, timestep: 500 });
      expect(maxErr(pred.eps.data, eps)).toBe(0);
    }
  });
});
