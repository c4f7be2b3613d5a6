import { describe, expect, it } from 'vitest';
import { guiderSettings } from '../nodes/sampling/guider-config.ts';

// Expected values are diffusers' guider classes' own defaults (guiders/*.py __init__ signatures) and rules.
const read = (config: Record<string, unknown>) => guiderSettings(config, 'guider/guider_config.json');

describe('diffusers guider configs', () => {
  it('ClassifierFreeGuidance: its defaults, the original formulation as scale + 1, off at scale 1 (original: 0)', () => {
    expect(read({ _class_name: 'ClassifierFreeGuidance' })).toEqual({ enabled: true, scale: 7.5, rescale: 0, start: 0, stop: 1 });
    expect(read({ _class_name: 'ClassifierFreeGuidance', guidance_scale: 2.5, use_original_formulation: true, guidance_rescale: 0.7, start: 0.2, stop: 0.8 })).toEqual({
      enabled: true,
      scale: 3.5,
      rescale: 0.7,
      start: 0.2,
      stop: 0.8,
    });
    expect(read({ _class_name: 'ClassifierFreeGuidance', guidance_scale: 1 }).enabled).toBe(false);
    expect(read({ _class_name: 'ClassifierFreeGuidance', guidance_scale: 0, use_original_formulation: true }).enabled).toBe(false);
    expect(read({ _class_name: 'ClassifierFreeGuidance', guidance_scale: 0 }).enabled).toBe(true);
    expect(read({ _class_name: 'ClassifierFreeGuidance', enabled: false }).enabled).toBe(false);
  });

  it('AdaptiveProjectedGuidance: scale 7.5, eta 1, norm cap 15, no momentum by default', () => {
    expect(read({ _class_name: 'AdaptiveProjectedGuidance' })).toEqual({
      enabled: true,
      scale: 7.5,
      rescale: 0,
      apg: { convention: 'diffusers', eta: 1, normThreshold: 15, momentum: 0 },
      start: 0,
      stop: 1,
    });
    const g = read({ _class_name: 'AdaptiveProjectedGuidance', guidance_scale: 5, adaptive_projected_guidance_momentum: -0.5, adaptive_projected_guidance_rescale: 2, eta: 0 });
    expect(g.apg).toEqual({ convention: 'diffusers', eta: 0, normThreshold: 2, momentum: -0.5 });
    expect(read({ _class_name: 'AdaptiveProjectedGuidance', guidance_scale: 1 }).enabled).toBe(false);
    expect(() => read({ _class_name: 'AdaptiveProjectedGuidance', adaptive_projected_guidance_norm_dim: 1 })).toThrow(/norm_dim is not supported/);
    expect(() => read({ _class_name: 'AdaptiveProjectedGuidance', use_original_formulation: true })).toThrow(/use_original_formulation true is not supported/);
  });

  it('AdaptiveProjectedMixGuidance: plain CFG at guidance_scale through start_step, then APG at its own scale', () => {
    expect(read({ _class_name: 'AdaptiveProjectedMixGuidance' })).toEqual({
      enabled: true,
      scale: 10,
      rescale: 0,
      apg: { convention: 'diffusers', eta: 0, normThreshold: 10, momentum: -0.5, start: 6, startScale: 3.5 },
      start: 0,
      stop: 1,
    });
    const g = read({ _class_name: 'AdaptiveProjectedMixGuidance', adaptive_projected_guidance_momentum: null, adaptive_projected_guidance_start_step: 0, adaptive_projected_guidance_scale: 8 });
    expect(g.apg).toMatchObject({ momentum: 0, start: 1 });
    expect(g.scale).toBe(8);
    // Its CFG at scale 1 turns APG off too; APG at scale 1 from the first step leaves its plain CFG.
    expect(read({ _class_name: 'AdaptiveProjectedMixGuidance', guidance_scale: 1 }).enabled).toBe(false);
    expect(read({ _class_name: 'AdaptiveProjectedMixGuidance', adaptive_projected_guidance_start_step: -1, adaptive_projected_guidance_scale: 1 })).toEqual({ enabled: true, scale: 3.5, rescale: 0, start: 0, stop: 1 });
    // step > 2.5 first holds at step 3, as at start_step 2.
    expect(read({ _class_name: 'AdaptiveProjectedMixGuidance', adaptive_projected_guidance_start_step: 2.5 }).apg?.start).toBe(3);
  });

  it('refuses what it cannot honour, naming the file and the key', () => {
    expect(() => read({ _class_name: 'PerturbedAttentionGuidance' })).toThrow(/guider\/guider_config.json: guider PerturbedAttentionGuidance is not supported \(supported: ClassifierFreeGuidance, AdaptiveProjectedGuidance, AdaptiveProjectedMixGuidance\)/);
    expect(() => read({})).toThrow(/no _class_name/);
    expect(() => read({ _class_name: 'ClassifierFreeGuidance', start: 1 })).toThrow(/start must be in \[0, 1\)/);
    expect(() => read({ _class_name: 'ClassifierFreeGuidance', start: 0.5, stop: 0.4 })).toThrow(/stop must be in \[start, 1\]/);
    expect(() => read({ _class_name: 'ClassifierFreeGuidance', guidance_scale: '7' })).toThrow(/guidance_scale must be a finite number, got "7"/);
    expect(() => read({ _class_name: 'ClassifierFreeGuidance', enabled: 1 })).toThrow(/enabled must be true or false/);
    expect(() => read({ _class_name: 'ClassifierFreeGuidance', guidance_scale: null })).toThrow(/guidance_scale must be a finite number, got null/);
    expect(() => read({ _class_name: 'AdaptiveProjectedMixGuidance', eta: null })).toThrow(/eta must be a finite number, got null/);
    expect(() => read({ _class_name: 'ClassifierFreeGuidance', guidance_rescale: 2 })).toThrow(/guidance_rescale must be in \[0, 1\]/);
  });
});
