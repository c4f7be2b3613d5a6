import { describe, expect, it } from 'vitest';
import { checkParamValue, isConditionMet, paramDefaults, resolveParams } from '../nodes/core/params.ts';
import { defineNode, type ParamSpec } from '../nodes/core/types.ts';

const notRun = async (): Promise<never> => {
  throw new Error('not run');
};

const Sampler = defineNode({
  type: 'Sampler',
  version: 1,
  title: 'Sampler',
  category: 'sampling',
  description: '',
  inputs: {},
  outputs: {},
  params: {
    steps: { kind: 'int', default: 20, min: 1, max: 1000 },
    cfg: { kind: 'float', default: 7.5, min: 0 },
    seed: { kind: 'seed', default: 42 },
    solver: { kind: 'enum', options: ['euler', 'heun', 'dpm'], default: 'euler' },
    // Only in dpm mode; its own sub-option only when order is 2: a chain of conditions.
    order: { kind: 'int', default: 1, min: 1, max: 3, when: { param: 'solver', in: ['dpm'] } },
    lowerOrderFinal: { kind: 'boolean', default: true, when: { param: 'order', in: [2, 3] } },
    prompt: { kind: 'string', default: '' },
    model: { kind: 'file', default: '', fileKind: 'model', mode: 'read', extensions: ['.onnx'] },
    mask: { kind: 'file', default: '', fileKind: 'image', mode: 'read', extensions: ['.png', '.jpg'], optional: true },
  },
  execute: notRun,
});

const valid = { model: 'm.onnx' };

describe('paramDefaults / isConditionMet', () => {
  it('lists every declared default', () => {
    expect(paramDefaults(Sampler)).toEqual({
      steps: 20,
      cfg: 7.5,
      seed: 42,
      solver: 'euler',
      order: 1,
      lowerOrderFinal: true,
      prompt: '',
      model: '',
      mask: '',
    });
  });

  it('holds with no condition, and only for listed values otherwise', () => {
    expect(isConditionMet(undefined, {})).toBe(true);
    expect(isConditionMet({ param: 'mode', in: ['a', 'b'] }, { mode: 'b' })).toBe(true);
    expect(isConditionMet({ param: 'mode', in: ['a', 'b'] }, { mode: 'c' })).toBe(false);
    expect(isConditionMet({ param: 'mode', in: ['a'] }, {})).toBe(false);
    // strict equality: the number 1 is not the string "1"
    expect(isConditionMet({ param: 'n', in: [1] }, { n: '1' })).toBe(false);
  });
});

describe('resolveParams', () => {
  it('fills defaults and keeps valid values', () => {
    const { values, errors } = resolveParams(Sampler, { steps: 30, cfg: 3, seed: 2 ** 32 - 1, solver: 'heun', model: 'a/b/M.ONNX' });
    expect(errors).toEqual([]);
    expect(values).toMatchObject({ steps: 30, cfg: 3, seed: 2 ** 32 - 1, solver: 'heun', model: 'a/b/M.ONNX', prompt: '', mask: '' });
  });

  it('reports ranges with the param name, value and bound', () => {
    const { values, errors } = resolveParams(Sampler, { ...valid, steps: 0, cfg: -0.5 });
    expect(errors.map((e) => [e.code, e.param, e.message])).toEqual([
      ['param_out_of_range', 'steps', 'param "steps" = 0 is below its minimum 1'],
      ['param_out_of_range', 'cfg', 'param "cfg" = -0.5 is below its minimum 0'],
    ]);
    // invalid values fall back to the default rather than leaking through
    expect(values.steps).toBe(20);
    expect(resolveParams(Sampler, { ...valid, steps: 1001 }).errors[0].message).toBe('param "steps" = 1001 is above its maximum 1000');
  });

  it('checks kinds: int, finite float, boolean, string', () => {
    const codes = (raw: Record<string, string | number | boolean>) => resolveParams(Sampler, { ...valid, ...raw }).errors.map((e) => e.code);
    expect(codes({ steps: 2.5 })).toEqual(['param_wrong_kind']);
    expect(codes({ steps: '20' })).toEqual(['param_wrong_kind']);
    expect(codes({ cfg: Number.NaN })).toEqual(['param_wrong_kind']);
    expect(codes({ cfg: Number.POSITIVE_INFINITY })).toEqual(['param_wrong_kind']);
    expect(codes({ cfg: true })).toEqual(['param_wrong_kind']);
    expect(codes({ prompt: 3 })).toEqual(['param_wrong_kind']);
    expect(codes({ cfg: 2 })).toEqual([]); // an integer is a fine float
    const msg = resolveParams(Sampler, { ...valid, steps: 2.5 }).errors[0].message;
    expect(msg).toContain('"steps"');
    expect(msg).toContain('2.5');
    expect(msg).toContain('integer');
  });

  it('checks seeds are integers in [0, 2^32)', () => {
    const err = (seed: number) => resolveParams(Sampler, { ...valid, seed }).errors;
    expect(err(0)).toEqual([]);
    expect(err(2 ** 32 - 1)).toEqual([]);
    expect(err(2 ** 32)[0]).toMatchObject({ code: 'param_out_of_range', param: 'seed' });
    expect(err(-1)[0]).toMatchObject({ code: 'param_out_of_range', param: 'seed' });
    expect(err(1.5)[0]).toMatchObject({ code: 'param_wrong_kind', param: 'seed' });
  });

  it('checks enum options and names them', () => {
    const [e] = resolveParams(Sampler, { ...valid, solver: 'ddim' }).errors;
    expect(e).toMatchObject({ code: 'param_not_in_options', param: 'solver' });
    expect(e.message).toBe('param "solver" = "ddim" is not one of "euler", "heun", "dpm"');
  });

  it('checks file params: required, extension (case-insensitive), embedded refs', () => {
    const errs = (model: string, mask = '') => resolveParams(Sampler, { model, mask }).errors;
    expect(errs('')[0]).toMatchObject({ code: 'param_wrong_kind', param: 'model' });
    expect(errs('')[0].message).toContain('empty');
    expect(resolveParams(Sampler, {}).errors).toMatchObject([{ code: 'param_wrong_kind', param: 'model' }]); // default '' = not chosen
    expect(errs('x.onnx', '')).toEqual([]); // mask is optional
    expect(errs('x.safetensors')[0]).toMatchObject({ code: 'param_not_in_options', param: 'model' });
    expect(errs('x.safetensors')[0].message).toContain('.onnx');
    expect(errs('embedded:tiny-rf')).toEqual([]);
    expect(errs('x.onnx', 'in.JPG')).toEqual([]);
    expect(errs('x.onnx', 'in.gif')[0]).toMatchObject({ code: 'param_not_in_options', param: 'mask' });
  });

  it('rejects unknown param names', () => {
    const [e] = resolveParams(Sampler, { ...valid, stpes: 10 }).errors;
    expect(e).toMatchObject({ code: 'unknown_param', param: 'stpes' });
    expect(e.message).toContain('"stpes"');
  });

  it('skips params whose condition does not hold, and gives them their default', () => {
    // solver != dpm: order is off, so its bad value is not checked and is replaced by the default
    let r = resolveParams(Sampler, { ...valid, solver: 'euler', order: 99 });
    expect(r.errors).toEqual([]);
    expect(r.values.order).toBe(1);

    r = resolveParams(Sampler, { ...valid, solver: 'dpm', order: 99 });
    expect(r.errors.map((e) => e.param)).toEqual(['order']);

    // chained: lowerOrderFinal depends on order, which depends on solver
    r = resolveParams(Sampler, { ...valid, solver: 'dpm', order: 2, lowerOrderFinal: false });
    expect(r.errors).toEqual([]);
    expect(r.values.lowerOrderFinal).toBe(false);
    r = resolveParams(Sampler, { ...valid, solver: 'euler', order: 2, lowerOrderFinal: false });
    expect(r.values.order).toBe(1); // order is off -> default 1 -> lowerOrderFinal is off too
    expect(r.values.lowerOrderFinal).toBe(true);
    expect(r.errors).toEqual([]);
  });

  it('does not loop on conditions that refer to each other', () => {
    const Odd = defineNode({
      type: 'Odd',
      version: 1,
      title: '',
      category: '',
      description: '',
      inputs: {},
      outputs: {},
      params: {
        a: { kind: 'int', default: 1, when: { param: 'b', in: [1] } },
        b: { kind: 'int', default: 1, when: { param: 'a', in: [1] } },
      },
      execute: notRun,
    });
    const r = resolveParams(Odd, { a: 1, b: 1 });
    expect(r.values).toEqual({ a: 1, b: 1 });
  });
});

describe('checkParamValue', () => {
  it('accepts a range boundary exactly and rejects just past it', () => {
    const spec: ParamSpec = { kind: 'float', default: 0, min: -1, max: 1 };
    expect(checkParamValue('x', spec, 1)).toBeUndefined();
    expect(checkParamValue('x', spec, -1)).toBeUndefined();
    expect(checkParamValue('x', spec, 1 + Number.EPSILON)?.code).toBe('param_out_of_range');
  });

  it('quotes a long wrong value by its start', () => {
    const long = 'abc'.repeat(100_000);
    expect(checkParamValue('steps', { kind: 'int', default: 1 }, long)?.message).toBe(`param "steps" = ${JSON.stringify(long.slice(0, 100))}… (300000 characters) is not an integer (got a string)`);
    expect(checkParamValue('mode', { kind: 'enum', default: 'a', options: ['a', 'b'] }, 'c'.repeat(121))?.message).toMatch(/^param "mode" = "c{100}"… \(121 characters\) is not one of "a", "b"$/);
    expect(checkParamValue('mode', { kind: 'enum', default: 'a', options: ['a', 'b'] }, 'c'.repeat(120))?.message).toBe(`param "mode" = "${'c'.repeat(120)}" is not one of "a", "b"`);
  });
});
