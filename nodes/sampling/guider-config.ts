/**
 * A diffusers guider config (a model folder's guider/guider_config.json, as HunyuanImagePipeline and the modular
 * pipelines load their guider) read into the CFG node's own terms. Supported: ClassifierFreeGuidance,
 * AdaptiveProjectedGuidance and AdaptiveProjectedMixGuidance; any other guider class is refused by name.
 */
import type { ApgSettings } from './guidance.ts';

export const SUPPORTED_GUIDERS = ['ClassifierFreeGuidance', 'AdaptiveProjectedGuidance', 'AdaptiveProjectedMixGuidance'] as const;

/** What a guider config means for the CFG node. */
export interface GuiderSettings {
  /** false: the guider never guides (enabled false, or a scale at which it turns itself off): the conditional model alone. */
  enabled: boolean;
  /** The CFG scale in FlowStudio's convention, uncond + scale (cond - uncond) (1: the conditional model). */
  scale: number;
  /** rescale_noise_cfg's phi (guidance_rescale). */
  rescale: number;
  apg?: ApgSettings;
  /** The guided fraction of the run's steps, diffusers' start / stop. */
  start: number;
  stop: number;
}

/** Python's math.isclose with its default tolerance, as the guiders test their scales. */
function isClose(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

/** Reads one key with its class default; a wrong type is an error naming the file's key. */
function reader(config: Record<string, unknown>, where: string) {
  // An absent key takes the class default; an explicit null is None in diffusers, which these keys do not take.
  const num = (key: string, fallback: number): number => {
    const v = config[key] === undefined ? fallback : config[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: ${key} must be a finite number, got ${JSON.stringify(config[key])}`);
    return v;
  };
  const optionalNum = (key: string, fallback: number | null): number | null => (config[key] === null || (config[key] === undefined && fallback === null) ? null : num(key, fallback ?? 0));
  const bool = (key: string, fallback: boolean): boolean => {
    const v = config[key] === undefined ? fallback : config[key];
    if (typeof v !== 'boolean') throw new Error(`${where}: ${key} must be true or false, got ${JSON.stringify(config[key])}`);
    return v;
  };
  return { num, optionalNum, bool };
}

/**
 * The CFG node's settings for a diffusers guider config. `where` names the file in errors. Class defaults are
 * diffusers' own (each guider's __init__): a key the file leaves out means what diffusers would use.
 */
export function guiderSettings(config: Record<string, unknown>, where: string): GuiderSettings {
  const cls = config._class_name;
  if (typeof cls !== 'string') throw new Error(`${where}: no _class_name (expected one of ${SUPPORTED_GUIDERS.join(', ')})`);
  if (!(SUPPORTED_GUIDERS as readonly string[]).includes(cls)) {
    throw new Error(`${where}: guider ${cls} is not supported (supported: ${SUPPORTED_GUIDERS.join(', ')}); use the CFG node's own settings`);
  }
  const { num, optionalNum, bool } = reader(config, where);
  const start = num('start', 0);
  const stop = num('stop', 1);
  // BaseGuidance's own checks.
  if (!(start >= 0 && start < 1)) throw new Error(`${where}: start must be in [0, 1), got ${start}`);
  if (!(stop >= start && stop <= 1)) throw new Error(`${where}: stop must be in [start, 1], got ${stop}`);
  const original = bool('use_original_formulation', false);
  const rescale = num('guidance_rescale', 0);
  if (!(rescale >= 0 && rescale <= 1)) throw new Error(`${where}: guidance_rescale must be in [0, 1], got ${rescale}`);
  let enabled = bool('enabled', true);

  if (cls === 'ClassifierFreeGuidance') {
    const s = num('guidance_scale', 7.5);
    // The original formulation, cond + s (cond - uncond), is uncond + (s + 1) (cond - uncond).
    const scale = original ? s + 1 : s;
    if (isClose(s, original ? 0 : 1)) enabled = false;
    return { enabled, scale, rescale, start, stop };
  }
  // The APG guiders add to cond rather than uncond in the original formulation, which the diffusers convention
  // of the CFG node's APG does not express.
  if (original) throw new Error(`${where}: use_original_formulation true is not supported for ${cls}`);
  if (cls === 'AdaptiveProjectedGuidance') {
    if (config.adaptive_projected_guidance_norm_dim !== undefined && config.adaptive_projected_guidance_norm_dim !== null) {
      throw new Error(`${where}: adaptive_projected_guidance_norm_dim is not supported (APG here normalizes over all but the batch axis, its default)`);
    }
    const scale = num('guidance_scale', 7.5);
    if (isClose(scale, 1)) enabled = false;
    const apg: ApgSettings = {
      convention: 'diffusers',
      eta: num('eta', 1),
      normThreshold: num('adaptive_projected_guidance_rescale', 15),
      momentum: optionalNum('adaptive_projected_guidance_momentum', null) ?? 0,
    };
    return { enabled, scale, rescale, apg, start, stop };
  }
  // AdaptiveProjectedMixGuidance: plain CFG at guidance_scale up to and including adaptive_projected_guidance_start_step
  // (APG once step > start_step), then APG at adaptive_projected_guidance_scale; off altogether when its CFG scale is 1.
  const startScale = num('guidance_scale', 3.5);
  // APG from the first step with step > start_step: floor(start_step) + 1 (a fractional one compares all the same).
  const startStep = num('adaptive_projected_guidance_start_step', 5);
  if (isClose(startScale, 1)) enabled = false;
  const apgScale = num('adaptive_projected_guidance_scale', 10);
  // APG at scale 1 is off: its plain CFG then runs every step.
  if (startStep < 0 && isClose(apgScale, 1)) return { enabled, scale: startScale, rescale, start, stop };
  const apg: ApgSettings = {
    convention: 'diffusers',
    eta: num('eta', 0),
    normThreshold: num('adaptive_projected_guidance_rescale', 10),
    momentum: optionalNum('adaptive_projected_guidance_momentum', -0.5) ?? 0,
    start: Math.max(Math.floor(startStep) + 1, 0),
    startScale,
  };
  return { enabled, scale: apgScale, rescale, apg, start, stop };
}
