import { describe, expect, it } from 'vitest';
import { describeNodeType, describeRegistry } from '../electron/engine/graph/describe.ts';
import { GraphValidationError, type GraphError } from '../electron/engine/graph/errors.ts';
import { GraphDocumentSchema, type GraphDocument } from '../electron/engine/graph/schema.ts';
import { findCycles, topologicalOrder, upstreamClosure, validateGraph } from '../electron/engine/graph/validate.ts';
import { fakeRegistry, SaveImage } from './fixtures/graphs/fake-nodes.ts';

type N = { id: string; type: string; params?: Record<string, string | number | boolean> };
/** Edge shorthand: "a.latent>b.latent" (id e<i>, or an explicit id as "id:a.x>b.y"). */
function graph(nodes: N[], edges: string[] = []): GraphDocument {
  return GraphDocumentSchema.parse({
    format: 'flowstudio-graph',
    schemaVersion: 1,
    nodes,
    edges: edges.map((spec, i) => {
      const [id, body] = spec.includes(':') ? spec.split(':') : [`e${i}`, spec];
      const [from, to] = body.split('>');
      const [source, sourcePort] = from.split('.');
      const [target, targetPort] = to.split('.');
      return { id, source, sourcePort, target, targetPort };
    }),
  });
}

const registry = fakeRegistry();
const codes = (errors: GraphError[]) => errors.map((e) => e.code);

/** noise -> scale -> decode -> save, the happy path. */
const chain = () =>
  graph(
    [
      { id: 'noise', type: 'NoiseSource', params: { seed: 7 } },
      { id: 'scale', type: 'Scale', params: { factor: 0.5 } },
      { id: 'decode', type: 'Decode' },
      { id: 'save', type: 'SaveImage', params: { path: 'x.png' } },
    ],
    ['noise.latent>scale.latent', 'scale.latent>decode.latent', 'decode.image>save.image'],
  );

describe('validateGraph', () => {
  it('accepts a valid graph', () => {
    expect(validateGraph(chain(), registry)).toEqual([]);
  });

  it('collects every error at once, each tied to what it is about', () => {
    const doc = graph(
      [
        { id: 'noise', type: 'NoiseSource', params: { width: 4, bogus: 1 } },
        { id: 'noise', type: 'NoiseSource' },
        { id: 'mystery', type: 'Teleporter' },
        { id: 'decode', type: 'Decode' },
        { id: 'save', type: 'SaveImage' },
        { id: 'save2', type: 'SaveImage' },
        { id: 'lonely', type: 'Decode' },
      ],
      [
        'dup:noise.latent>decode.latent',
        'dup:noise.latent>decode.latent', // same id, and a second edge into decode.latent
        'ghost.latent>decode.latent',
        'noise.nope>save.image',
        'decode.image>save.picture',
        'noise.latent>save2.image',
      ],
    );
    const errors = validateGraph(doc, registry);
    const find = (code: string, extra: Partial<GraphError> = {}) => errors.filter((e) => e.code === code && Object.entries(extra).every(([k, v]) => e[k as keyof GraphError] === v));

    expect(find('duplicate_id', { nodeId: 'noise' })).toHaveLength(1);
    expect(find('duplicate_id', { edgeId: 'dup' })).toHaveLength(1);
    expect(find('unknown_node_type', { nodeId: 'mystery', nodeType: 'Teleporter' })).toHaveLength(1);
    expect(find('dangling_edge', { edgeId: 'e2' })[0].message).toContain('"ghost"');
    expect(find('unknown_port', { edgeId: 'e3', nodeId: 'noise', port: 'nope' })[0].message).toContain('no output "nope"');
    expect(find('unknown_port', { edgeId: 'e4', nodeId: 'save', port: 'picture' })[0].message).toContain('no input "picture"');
    // edge "dup" twice, plus "ghost" into decode.latent: two extra edges into one input
    expect(find('duplicate_input', { nodeId: 'decode', port: 'latent' })).toHaveLength(2);
    expect(find('type_mismatch', { edgeId: 'e5', nodeId: 'save2', port: 'image' })).toHaveLength(1);
    expect(find('missing_input', { nodeId: 'lonely', nodeType: 'Decode', port: 'latent' })).toHaveLength(1);
    // save.image has an edge (from a port that does not exist): reported once, as unknown_port, not also as missing
    expect(find('missing_input')).toHaveLength(1);
    expect(find('param_out_of_range', { nodeId: 'noise', nodeType: 'NoiseSource', param: 'width' })[0].message).toBe(
      'node "noise" (NoiseSource): param "width" = 4 is below its minimum 8',
    );
    expect(find('unknown_param', { nodeId: 'noise', param: 'bogus' })).toHaveLength(1);
    expect(errors.every((e) => e.message.length > 0)).toBe(true);
  });

  it('names both ports and both types on a type mismatch', () => {
    const doc = graph(
      [
        { id: 'noise', type: 'NoiseSource' },
        { id: 'save', type: 'SaveImage' },
      ],
      ['noise.latent>save.image'],
    );
    const [e] = validateGraph(doc, registry);
    expect(e.code).toBe('type_mismatch');
    for (const part of ['"latent"', '"image"', 'LATENT', 'IMAGE', '"noise"', '"save"']) expect(e.message).toContain(part);
  });

  it('requires inputs unless optional or switched off by `when`', () => {
    const scaleAlone = graph([{ id: 'n', type: 'NoiseSource' }, { id: 's', type: 'Scale' }], ['n.latent>s.latent']);
    expect(validateGraph(scaleAlone, registry)).toEqual([]); // mask is optional

    const blend = (mode: string, edges: string[]) => graph([{ id: 'n', type: 'NoiseSource' }, { id: 'b', type: 'Blend', params: { mode } }], edges);
    expect(validateGraph(blend('copy', ['n.latent>b.a']), registry)).toEqual([]);
    const errors = validateGraph(blend('mix', ['n.latent>b.a']), registry);
    expect(errors).toMatchObject([{ code: 'missing_input', nodeId: 'b', nodeType: 'Blend', port: 'b' }]);
    expect(errors[0].message).toContain('LATENT');
    expect(validateGraph(blend('mix', ['n.latent>b.a', 'n.latent>b.b']), registry)).toEqual([]);
  });

  it('reports a cycle with its node ids in edge order, once per cycle', () => {
    const doc = graph(
      [
        { id: 'n', type: 'NoiseSource' },
        { id: 'b', type: 'Blend', params: { mode: 'mix' } },
        { id: 's1', type: 'Scale' },
        { id: 's2', type: 'Scale' },
        { id: 'loop', type: 'Scale' },
      ],
      ['n.latent>b.a', 's2.latent>b.b', 'b.latent>s1.latent', 's1.latent>s2.latent', 'loop.latent>loop.mask'],
    );
    const cycles = validateGraph(doc, registry).filter((e) => e.code === 'cycle');
    expect(cycles.map((e) => e.cycle)).toEqual([['b', 's1', 's2'], ['loop']]);
    expect(cycles[0].nodeId).toBe('b');
    expect(cycles[0].message).toContain('"b" -> "s1" -> "s2" -> "b"');
    // the self-loop also joins a MASK input to a LATENT output
    expect(codes(validateGraph(doc, registry))).toContain('type_mismatch');
  });

  it('spells out a long cycle by its ends and length (the cycle field keeps every node)', () => {
    const n = 5000;
    const ids = Array.from({ length: n }, (_, i) => `n${i}`);
    const doc = graph(
      ids.map((id) => ({ id, type: 'Scale' })),
      ids.map((id, i) => `${id}.latent>${ids[(i + 1) % n]}.latent`),
    );
    const [cycle] = validateGraph(doc, registry).filter((e) => e.code === 'cycle');
    expect(cycle.cycle).toHaveLength(n);
    expect(cycle.message).toBe('the graph has a cycle: "n0" -> "n1" -> "n2" -> "n3" -> "n4" -> "n5" -> ... -> "n4999" -> "n0" (5000 nodes)');
  });

  it('with targets: completeness only upstream of them, structure everywhere', () => {
    const doc = graph(
      [
        { id: 'noise', type: 'NoiseSource' },
        { id: 'decode', type: 'Decode' },
        { id: 'idle', type: 'Decode' }, // unconnected: only a problem if it must run
        { id: 'model', type: 'LoadModel' }, // empty model path: likewise
        { id: 'bad', type: 'SaveImage' },
      ],
      ['noise.latent>decode.latent', 'noise.latent>bad.image'],
    );
    const all = validateGraph(doc, registry);
    expect(codes(all).sort()).toEqual(['missing_input', 'param_wrong_kind', 'type_mismatch']);

    const targeted = validateGraph(doc, registry, { targets: ['decode'] });
    expect(targeted.map((e) => [e.code, e.nodeId])).toEqual([['type_mismatch', 'bad']]);

    const unknown = validateGraph(doc, registry, { targets: ['decode', 'nowhere'] });
    expect(unknown.filter((e) => e.code === 'unknown_target')).toMatchObject([{ nodeId: 'nowhere' }]);
  });
});

describe('upstreamClosure', () => {
  it('collects the targets and their ancestors only, in doc order', () => {
    const doc = chain();
    expect([...upstreamClosure(doc, ['decode'])]).toEqual(['noise', 'scale', 'decode']);
    expect([...upstreamClosure(doc, ['noise'])]).toEqual(['noise']);
    expect([...upstreamClosure(doc, ['nope'])]).toEqual([]);
  });

  it('terminates on cycles', () => {
    const doc = graph([{ id: 'a', type: 'Scale' }, { id: 'b', type: 'Scale' }, { id: 'c', type: 'Decode' }], ['a.latent>b.latent', 'b.latent>a.latent', 'b.latent>c.latent']);
    expect([...upstreamClosure(doc, ['c'])]).toEqual(['a', 'b', 'c']);
  });
});

describe('topologicalOrder', () => {
  it('breaks ties by position in doc.nodes', () => {
    // Independent nodes keep doc order; a node waits for its sources however early it is listed.
    const doc = graph(
      [
        { id: 'save', type: 'SaveImage' },
        { id: 'z', type: 'NoiseSource' },
        { id: 'decode', type: 'Decode' },
        { id: 'a', type: 'NoiseSource' },
      ],
      ['a.latent>decode.latent', 'decode.image>save.image'],
    );
    expect(topologicalOrder(doc)).toEqual(['z', 'a', 'decode', 'save']);
    expect(topologicalOrder(doc, ['save', 'a'])).toEqual(['save', 'a']); // only edges inside the subset count
    expect(topologicalOrder(doc, new Set(['decode', 'ghost']))).toEqual(['decode']);
  });

  it('matches a brute-force reference on random DAGs', () => {
    let state = 12345;
    const rand = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 50; trial++) {
      const n = 2 + Math.floor(rand() * 12);
      // rank defines a hidden DAG order; doc order is a random permutation of it
      const ids = Array.from({ length: n }, (_, i) => `n${i}`);
      const docOrder = [...ids].sort(() => rand() - 0.5);
      const edges: [string, string][] = [];
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (rand() < 0.3) edges.push([ids[i], ids[j]]);
      const doc = graph(
        docOrder.map((id) => ({ id, type: 'Scale' })),
        edges.map(([s, t]) => `${s}.latent>${t}.latent`),
      );

      // Reference: repeatedly take the earliest-listed node whose sources are all placed.
      const expected: string[] = [];
      while (expected.length < n) {
        const next = docOrder.find((id) => !expected.includes(id) && edges.every(([s, t]) => t !== id || expected.includes(s)))!;
        expected.push(next);
      }
      expect(topologicalOrder(doc)).toEqual(expected);
    }
  });

  it('throws a cycle error instead of hanging', () => {
    const doc = graph(
      [{ id: 'n', type: 'NoiseSource' }, { id: 'a', type: 'Scale' }, { id: 'b', type: 'Scale' }],
      ['n.latent>a.latent', 'a.latent>b.latent', 'b.latent>a.mask'],
    );
    let thrown: unknown;
    try {
      topologicalOrder(doc);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(GraphValidationError);
    expect((thrown as GraphValidationError).errors).toMatchObject([{ code: 'cycle', cycle: ['a', 'b'] }]);
    expect(topologicalOrder(doc, ['n', 'a'])).toEqual(['n', 'a']); // the cycle is outside this subset
    expect(findCycles(doc)).toEqual([['a', 'b']]);
  });

  it('handles a long chain without deep recursion', () => {
    const n = 20000;
    const nodes = Array.from({ length: n }, (_, i) => ({ id: `n${i}`, type: 'Scale' }));
    const edges = Array.from({ length: n }, (_, i) => ({ id: `e${i}`, source: `n${i}`, sourcePort: 'latent', target: `n${(i + 1) % n}`, targetPort: 'latent' }));
    const doc = GraphDocumentSchema.parse({ format: 'flowstudio-graph', schemaVersion: 1, nodes, edges });
    const cycles = findCycles(doc);
    expect(cycles).toHaveLength(1);
    expect(cycles[0]).toHaveLength(n);
    expect(topologicalOrder({ nodes, edges: edges.slice(0, n - 1) })).toHaveLength(n);
  });
});

describe('describeNodeType / describeRegistry', () => {
  it('is plain JSON data with every declared field, in declaration order', () => {
    const d = describeNodeType(SaveImage);
    expect(JSON.parse(JSON.stringify(d))).toEqual(d); // no functions, no undefined fields
    expect(d).toMatchObject({ type: 'SaveImage', version: 1, category: 'image', kind: 'side-effect' });
    expect(d.inputs).toEqual([{ name: 'image', type: 'IMAGE', optional: false }]);
    expect(d.params.map((p) => p.name)).toEqual(['path', 'embedGraph', 'caption']);
    expect(d.params[0]).toEqual({ name: 'path', kind: 'file', default: 'out.png', fileKind: 'image', mode: 'write', extensions: ['.png'], optional: false });
  });

  it('carries conditions, ranges and options; orders types by category then type', () => {
    const all = describeRegistry(registry);
    expect(all.map((d) => d.type)).toEqual(['Decode', 'SaveImage', 'Blend', 'NoiseSource', 'Scale', 'LoadModel']);
    const blend = all.find((d) => d.type === 'Blend')!;
    expect(blend.inputs[1]).toEqual({ name: 'b', type: 'LATENT', optional: false, when: { param: 'mode', in: ['mix'] } });
    expect(blend.params).toEqual([
      { name: 'mode', kind: 'enum', default: 'copy', options: ['copy', 'mix'] },
      { name: 'amount', kind: 'float', default: 0.5, min: 0, max: 1, when: { param: 'mode', in: ['mix'] } },
    ]);
    const noise = all.find((d) => d.type === 'NoiseSource')!;
    expect(noise.params[1]).toEqual({ name: 'width', kind: 'int', default: 64, min: 8, max: 1024, step: 8, help: 'Width in pixels' });
    expect(noise.params[0]).toMatchObject({ kind: 'seed', min: 0, max: 2 ** 32 - 1 });
  });
});
