/**
 * A latent-sized stand-in for a real denoiser, for the bench's reference row: an SD 1.x-shaped UNet folder
 * (4x64x64 latent, i.e. a 512x512 image) whose network is three 3x3 convolutions (4 -> C -> C -> 4, C = 64)
 * with random weights and the timestep added as a bias. Its cost per call (about 0.35 GFLOP) is small next to
 * a real UNet's (about 800 GFLOP at this size), so its ratio is an upper bound for what the engine adds there.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { attr, GraphBuilder } from '../electron/engine/onnx/builder.ts';

const CHANNELS = 64;

/** Seeded uniform weights in [-scale, scale] (xorshift32): the same model every run. */
function weights(count: number, scale: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

function conv(g: GraphBuilder, x: string, cin: number, cout: number, seed: number): string {
  // He-style scale keeps activations of order 1 through the stack.
  const w = g.initializer(`w${seed}`, 'float32', [cout, cin, 3, 3], weights(cout * cin * 9, Math.sqrt(2 / (cin * 9)), seed));
  const b = g.constFloat(new Float32Array(cout), [cout]);
  return g.op('Conv', [x, w, b], { pads: attr.ints([1, 1, 1, 1]), kernel_shape: attr.ints([3, 3]) });
}

/** Writes the folder (model_index.json, unet/model.onnx, scheduler/scheduler_config.json) under `dir`; returns it. */
export async function writeConvModel(dir: string): Promise<string> {
  const g = new GraphBuilder('bench-conv-unet');
  const sample = g.input('sample', 'float32', ['batch', 4, 64, 64]);
  const timestep = g.input('timestep', 'float32', [1]);
  let h = g.op('Relu', [conv(g, sample, 4, CHANNELS, 11)]);
  h = g.op('Relu', [conv(g, h, CHANNELS, CHANNELS, 12)]);
  const out = conv(g, h, CHANNELS, 4, 13);
  const bias = g.op('Mul', [timestep, g.constFloat([1e-4], [])]);
  g.output(g.op('Add', [out, bias], {}, 'out_sample'), 'float32', ['batch', 4, 64, 64]);
  const folder = path.join(dir, 'bench-conv-unet');
  await fs.mkdir(path.join(folder, 'unet'), { recursive: true });
  await fs.mkdir(path.join(folder, 'scheduler'), { recursive: true });
  await fs.writeFile(path.join(folder, 'unet', 'model.onnx'), g.toBytes());
  await fs.writeFile(
    path.join(folder, 'model_index.json'),
    JSON.stringify({ _class_name: 'StableDiffusionPipeline', _diffusers_version: '0.30.0', unet: ['diffusers', 'OnnxRuntimeModel'], scheduler: ['diffusers', 'EulerDiscreteScheduler'] }),
  );
  // runwayml/stable-diffusion-v1-5's betas, with the Euler scheduler diffusers swaps in.
  await fs.writeFile(
    path.join(folder, 'scheduler', 'scheduler_config.json'),
    JSON.stringify({
      _class_name: 'EulerDiscreteScheduler',
      beta_start: 0.00085,
      beta_end: 0.012,
      beta_schedule: 'scaled_linear',
      num_train_timesteps: 1000,
      prediction_type: 'epsilon',
      steps_offset: 1,
      timestep_spacing: 'leading',
    }),
  );
  // An installed model's files are not seconds old: past the stamp cache's racy window (stamp-cache.ts), as a
  // user's model folder is when they press Run.
  const past = new Date(Date.now() - 3600_000);
  for (const rel of ['unet/model.onnx', 'model_index.json', 'scheduler/scheduler_config.json', 'unet', 'scheduler', '.']) await fs.utimes(path.join(folder, rel), past, past);
  return folder;
}
