import { applyPatches, enablePatches, produceWithPatches } from 'immer';
import { describe, expect, it } from 'vitest';
import { describeRegistry, type NodeTypeDescription } from '../electron/engine/graph/describe.ts';
import { parseGraph } from '../electron/engine/graph/io.ts';
import type { GraphDocument } from '../electron/engine/graph/schema.ts';
import { PORT_TYPES } from '../nodes/core/values.ts';
import { createDefaultRegistry } from '../nodes/index.ts';
import { alignRects } from '../renderer/src/graph/align.ts';
import { parseClipboard, placeFragment, serializeSelection } from '../renderer/src/graph/clipboard.ts';
import { canConnect, pathBetween } from '../renderer/src/graph/connect.ts';
import { emptyDocument, parseDocument } from '../renderer/src/graph/document.ts';
import { freshId, nodeIdPrefix } from '../renderer/src/graph/ids.ts';
import { indexNodeTypes } from '../renderer/src/graph/node-types.ts';
import { PORT_COLORS, portColor, UNKNOWN_PORT_COLOR } from '../renderer/src/graph/port-colors.ts';
import { searchNodeTypes, wordStarts } from '../renderer/src/graph/search.ts';
import { nodeViewModel } from '../renderer/src/graph/view-model.ts';
import { combinePatches } from '../renderer/src/state/history.ts';

enablePatches();

function nodeType(partial: Partial<NodeTypeDescription> & { type: string }): NodeTypeDescription {
  return { version: 1, title: partial.type, category: 'misc', description: '', kind: 'pure', inputs: [], outputs: [], params: [], ...partial };
}

const TYPES = indexNodeTypes([
  nodeType({ type: 'Src', outputs: [{ name: 'latent', type: 'LATENT' }, { name: 'image', type: 'IMAGE' }] }),
  nodeType({ type: 'Mid', inputs: [{ name: 'x', type: 'LATENT' }], outputs: [{ name: 'y', type: 'LATENT' }] }),
  nodeType({
    type: 'Cond',
    inputs: [
      { name: 'always', type: 'LATENT' },
      { name: 'maybe', type: 'LATENT', optional: true },
      { name: 'mask', type: 'MASK', when: { param: 'mode', in: ['masked'] } },
    ],
    params: [
      { name: 'mode', kind: 'enum', default: 'plain', options: ['plain', 'masked'] },
      { name: 'strength', kind: 'float', default: 0.5, when: { param: 'mode', in: ['masked'] } },
      { name: 'steps', kind: 'int', default: 10 },
    ],
  }),
]);

function doc(nodes: { id: string; type: string }[], edges: [string, string, string, string][]): GraphDocument {
  return {
    ...emptyDocument(),
    nodes: nodes.map((n, i) => ({ ...n, params: {}, position: { x: i * 100, y: 0 } })),
    edges: edges.map(([source, sourcePort, target, targetPort], i) => ({ id: `e${i}`, source, sourcePort, target, targetPort })),
  };
}

describe('canConnect', () => {
  const d = doc(
    [
      { id: 's', type: 'Src' },
      { id: 'a', type: 'Mid' },
      { id: 'b', type: 'Mid' },
      { id: 'c', type: 'Mid' },
    ],
    [
      ['s', 'latent', 'a', 'x'],
      ['a', 'y', 'b', 'x'],
      ['b', 'y', 'c', 'x'],
    ],
  );

  it('accepts matching types and reports the edge it replaces', () => {
    const check = canConnect(d, TYPES, { source: 's', sourcePort: 'latent', target: 'b', targetPort: 'x' });
    expect(check).toEqual({ ok: true, replaces: d.edges[1] });
    expect(canConnect(d, TYPES, { source: 's', sourcePort: 'latent', target: 'a', targetPort: 'x' })).toEqual({ ok: true, existing: d.edges[0] });
  });

  it('refuses with a code and a readable reason', () => {
    const cases: [Parameters<typeof canConnect>[2], string, RegExp][] = [
      [{ source: 's', sourcePort: 'image', target: 'a', targetPort: 'x' }, 'type_mismatch', /IMAGE.*LATENT/],
      [{ source: 'a', sourcePort: 'y', target: 'a', targetPort: 'x' }, 'self_loop', /itself/],
      [{ source: 'c', sourcePort: 'y', target: 'a', targetPort: 'x' }, 'cycle', /"a" -> "b" -> "c" -> "a"/],
      [{ source: 's', sourcePort: 'nope', target: 'a', targetPort: 'x' }, 'unknown_port', /no output "nope"/],
      [{ source: 's', sourcePort: 'latent', target: 'a', targetPort: 'nope' }, 'unknown_port', /no input "nope"/],
      [{ source: 'zz', sourcePort: 'latent', target: 'a', targetPort: 'x' }, 'unknown_node', /"zz"/],
    ];
    for (const [req, code, reason] of cases) {
      const check = canConnect(d, TYPES, req);
      expect(check.ok, JSON.stringify(req)).toBe(false);
      if (!check.ok) {
        expect(check.code).toBe(code);
        expect(check.reason).toMatch(reason);
      }
    }
  });

  it('pathBetween finds the shortest chain or nothing', () => {
    const withShortcut = { ...d, edges: [...d.edges, { id: 'x', source: 'a', sourcePort: 'y', target: 'c', targetPort: 'x' }] };
    expect(pathBetween(withShortcut, 's', 'c')).toEqual(['s', 'a', 'c']);
    expect(pathBetween(d, 'c', 's')).toBeUndefined();
    expect(pathBetween(d, 'b', 'b')).toEqual(['b']);
  });
});

describe('search ranking', () => {
  const types = [
    nodeType({ type: 'TensorMetrics', title: 'Tensor Metrics', category: 'metrics', description: 'Compares two latents: mse and psnr.' }),
    nodeType({ type: 'Sampler', title: 'Sampler', category: 'sampling', description: 'Runs a solver over a noise schedule.' }),
    nodeType({ type: 'SaveLatent', title: 'Save Latent', category: 'io', description: 'Writes a latent to .npy' }),
    nodeType({ type: 'LoadImage', title: 'Load Image', category: 'image', description: 'Reads a PNG and its graph.' }),
    nodeType({ type: 'NoiseSchedule', title: 'Noise Schedule', category: 'sampling', description: 'Sigmas for a sampler.' }),
    nodeType({ type: 'UpscaleSimple', title: 'Upscale Simple', category: 'image', description: 'Nearest neighbour upscaling.' }),
  ];
  const titles = (q: string) => searchNodeTypes(types, q).map((h) => h.type.title);

  it('title prefix > title word start > category > title subsequence > description word', () => {
    // "sa": prefix of Sampler and Save Latent; category prefix "sampling" of Noise Schedule; subsequence in "Upscale Simple".
    expect(titles('sa')).toEqual(['Sampler', 'Save Latent', 'Noise Schedule', 'Upscale Simple']);
    // "sche": word start in "Noise Schedule" beats a description word ("schedule" in Sampler's).
    expect(titles('sche')).toEqual(['Noise Schedule', 'Sampler']);
    // "im": category "image" (Load Image is also a word start in its title: wins), Upscale Simple by subsequence (s-i-m-p).
    expect(titles('im')).toEqual(['Load Image', 'Upscale Simple']);
    // "scl": only subsequences; the tighter one first (span 4 in "upSCaLe" vs 7 in "noise SChedule").
    expect(titles('scl')).toEqual(['Upscale Simple', 'Noise Schedule']);
    // "psnr": description only.
    expect(titles('psnr')).toEqual(['Tensor Metrics']);
  });

  it('every word must match; empty query lists all in the given order; highlights the title', () => {
    expect(titles('save lat')).toEqual(['Save Latent']);
    expect(titles('save zebra')).toEqual([]);
    expect(titles('')).toEqual(types.map((t) => t.title));
    const hit = searchNodeTypes(types, 'met')[0];
    expect(hit.type.title).toBe('Tensor Metrics');
    expect(hit.titleMatches).toEqual([7, 8, 9]);
    expect(searchNodeTypes(types, 'a', 2)).toHaveLength(2);
  });

  it('a title typed in order finds that node first (the built-in node set)', () => {
    const builtin = describeRegistry(createDefaultRegistry());
    const first = (q: string) => searchNodeTypes(builtin, q)[0]?.type.type;
    // Same words, so word-by-word scores tie: the order and the phrase decide.
    expect(first('latent to image')).toBe('LatentToImage');
    expect(first('image to latent')).toBe('ImageToLatent');
    expect(first('Latent  To Image')).toBe('LatentToImage');
    // Words in order without the phrase still decide the tie.
    expect(first('latent image')).toBe('LatentToImage');
    expect(first('image latent')).toBe('ImageToLatent');
    // A phrase inside the title beats a scattered match that has a title prefix ("to image": Image to Latent starts with "image").
    expect(first('to image')).toBe('LatentToImage');
    expect(first('samp')).toBe('Sampler');
    expect(first('save lat')).toBe('SaveLatent');
    expect(first('split sig')).toBe('SplitSigmas');
    // The highlight is the phrase, not an earlier occurrence of a word.
    const hit = searchNodeTypes(builtin, 'latent to image')[0];
    expect(hit.titleMatches).toEqual([0, 1, 2, 3, 4, 5, 7, 8, 10, 11, 12, 13, 14]);
  });

  it('order bonuses apply to multi-word queries only and never add a non-matching type', () => {
    const pair = [
      nodeType({ type: 'AB', title: 'Alpha Beta' }),
      nodeType({ type: 'BA', title: 'Beta Alpha' }),
      nodeType({ type: 'AC', title: 'Alpha Gamma' }),
    ];
    const ranked = (q: string) => searchNodeTypes(pair, q).map((h) => h.type.type);
    expect(ranked('alpha beta')).toEqual(['AB', 'BA']);
    expect(ranked('beta alpha')).toEqual(['BA', 'AB']);
    // Single word: Alpha Beta and Alpha Gamma tie on a title prefix (same length: alphabetical); Beta Alpha is a word start.
    expect(ranked('alpha')).toEqual(['AB', 'AC', 'BA']);
    // Scores of a lone word are unchanged by the order rules.
    const single = searchNodeTypes(pair, 'alpha');
    expect(single[0].score).toBe(single[1].score);
    expect(single[0].score).toBeGreaterThan(single[2].score);
  });

  it('word starts split on spaces, punctuation, camelCase and digits', () => {
    expect(wordStarts('Load Image')).toEqual([0, 5]);
    expect(wordStarts('saveLatent2x')).toEqual([0, 4, 10, 11]);
    expect(wordStarts('a-b_c')).toEqual([0, 2, 4]);
  });
});

describe('clipboard', () => {
  const d: GraphDocument = {
    ...doc(
      [
        { id: 's', type: 'Src' },
        { id: 'a', type: 'Mid' },
        { id: 'b', type: 'Mid' },
      ],
      [
        ['s', 'latent', 'a', 'x'],
        ['a', 'y', 'b', 'x'],
      ],
    ),
    groups: [{ id: 'g', title: 'G', bounds: { x: -20, y: -40, width: 300, height: 200 } }],
  };

  it('serialize keeps only internal edges; placeFragment renames everything and shifts the corner', () => {
    const text = serializeSelection(d, { nodes: ['a', 'b'], groups: ['g'] });
    const parsed = parseClipboard(text);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.fragment.edges.map((e) => e.id)).toEqual(['e1']);
    const placed = placeFragment(d, parsed.fragment, { at: { x: 0, y: 0 } });
    const taken = new Set([...d.nodes.map((n) => n.id), ...d.edges.map((e) => e.id), ...d.groups.map((g) => g.id)]);
    for (const id of [...placed.nodes.map((n) => n.id), ...placed.edges.map((e) => e.id), ...placed.groups.map((g) => g.id)]) expect(taken.has(id)).toBe(false);
    // Corner of the fragment was the group's (-20, -40); node a was at (100, 0).
    expect(placed.groups[0].bounds).toMatchObject({ x: 0, y: 0 });
    expect(placed.nodes[0].position).toEqual({ x: 120, y: 40 });
    expect(placed.edges[0]).toMatchObject({ source: placed.idMap.a, target: placed.idMap.b });
    // The source fragment is untouched.
    expect(parsed.fragment.nodes[0].id).toBe('a');
  });

  it('accepts a whole (even old-format) graph document', () => {
    const v0 = { version: 0, nodes: [{ id: 'n1', type: 'Src', x: 5, y: 6 }], links: [] };
    const parsed = parseClipboard(JSON.stringify(v0));
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.fragment.nodes[0]).toMatchObject({ id: 'n1', type: 'Src', position: { x: 5, y: 6 } });
  });

  it('ids: smallest free number per prefix', () => {
    const taken = new Set(['sampler_1', 'sampler_3']);
    expect(freshId(nodeIdPrefix('Sampler'), taken)).toBe('sampler_2');
    expect(freshId(nodeIdPrefix('Sampler'), taken)).toBe('sampler_4');
    expect(nodeIdPrefix('My Node!')).toBe('my_node_');
  });
});

describe('parseDocument', () => {
  it('agrees with the engine parser on a shipped example and reports junk', async () => {
    const text = (await import('node:fs')).readFileSync(new URL('../examples/gaussian-vp-ddim.json', import.meta.url), 'utf8');
    const result = parseDocument(text);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.doc).toEqual(parseGraph(text));
    const bad = parseDocument('{"format":"flowstudio-graph","schemaVersion":1,"nodes":[{"id":""}]}');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.reason).toMatch(/nodes\[0\]/);
    expect(parseDocument('{').ok).toBe(false);
  });

  it("gives the engine's messages: a bad param by node and param, a JSON error by line and column", () => {
    const doc = { format: 'flowstudio-graph', schemaVersion: 1, nodes: [{ id: 'blur', type: 'Scale', params: { factor: [1, 2] }, position: { x: 0, y: 0 } }], edges: [] };
    const bad = parseDocument(doc);
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.reason).toBe('Not a valid graph file: node "blur" (Scale): param "factor": expected number, string or boolean, got an array');
      expect(bad.errors[0]).toMatchObject({ nodeId: 'blur', path: 'nodes[0].params.factor' });
    }
    const json = parseDocument('{\n  "format": "flowstudio-graph",\n  "nodes": [1,]\n}');
    expect(json.ok).toBe(false);
    if (!json.ok) expect(json.reason).toBe("Not a valid graph file: invalid JSON at line 3, column 15: unexpected \"]\"");
  });
});

describe('align', () => {
  const rects = [
    { id: 'a', x: 0, y: 0, width: 100, height: 40 },
    { id: 'b', x: 50, y: 100, width: 50, height: 60 },
    { id: 'c', x: 400, y: 30, width: 100, height: 20 },
  ];
  it('edges and centres against the bounding box [0,500] x [0,160]', () => {
    expect(alignRects(rects, 'left')).toEqual({ a: { x: 0, y: 0 }, b: { x: 0, y: 100 }, c: { x: 0, y: 30 } });
    expect(alignRects(rects, 'right')).toEqual({ a: { x: 400, y: 0 }, b: { x: 450, y: 100 }, c: { x: 400, y: 30 } });
    expect(alignRects(rects, 'top')).toEqual({ a: { x: 0, y: 0 }, b: { x: 50, y: 0 }, c: { x: 400, y: 0 } });
    expect(alignRects(rects, 'bottom')).toEqual({ a: { x: 0, y: 120 }, b: { x: 50, y: 100 }, c: { x: 400, y: 140 } });
    expect(alignRects(rects, 'center-x')).toEqual({ a: { x: 200, y: 0 }, b: { x: 225, y: 100 }, c: { x: 200, y: 30 } });
    expect(alignRects(rects, 'center-y')).toEqual({ a: { x: 0, y: 60 }, b: { x: 50, y: 50 }, c: { x: 400, y: 70 } });
  });
  it('distribute: equal gaps between the outermost boxes, which stay put', () => {
    // x: widths 250 over span 500 -> gaps 125: a at 0, b at 225, c at 400.
    expect(alignRects(rects, 'distribute-x')).toEqual({ a: { x: 0, y: 0 }, b: { x: 225, y: 100 }, c: { x: 400, y: 30 } });
    // y by centre: a (20), c (40), b (130): heights 120 over span 160 -> gaps 20: a 0, c 60, b 100.
    expect(alignRects(rects, 'distribute-y')).toEqual({ a: { x: 0, y: 0 }, c: { x: 400, y: 60 }, b: { x: 50, y: 100 } });
    expect(alignRects(rects.slice(0, 2), 'distribute-x')).toEqual({});
    expect(alignRects(rects.slice(0, 1), 'left')).toEqual({});
  });
});

describe('port colours and node view model', () => {
  it('every port type has its own valid colour', () => {
    const colours = PORT_TYPES.map((t) => PORT_COLORS[t]);
    for (const c of colours) expect(c).toMatch(/^#[0-9a-f]{6}$/);
    expect(new Set(colours).size).toBe(PORT_TYPES.length);
    expect(portColor('LATENT')).toBe(PORT_COLORS.LATENT);
    expect(portColor('NEW_TYPE')).toBe(UNKNOWN_PORT_COLOR);
  });

  it('`when` conditions decide shown params and required inputs', () => {
    const plain = nodeViewModel(TYPES.Cond, { params: {} }, new Set(['always']));
    expect(plain.params.map((p) => [p.param.name, p.visible, p.value])).toEqual([
      ['mode', true, 'plain'],
      ['strength', false, 0.5],
      ['steps', true, 10],
    ]);
    expect(plain.inputs.map((i) => [i.port.name, i.visible, i.required])).toEqual([
      ['always', true, true],
      ['maybe', true, false],
      ['mask', false, false],
    ]);
    expect(plain.missingInputs).toEqual([]);
    const masked = nodeViewModel(TYPES.Cond, { params: { mode: 'masked', steps: 10, legacy: 1 }, title: 'Mine' }, new Set());
    expect(masked.title).toBe('Mine');
    expect(masked.params.find((p) => p.param.name === 'strength')!.visible).toBe(true);
    expect(masked.params.find((p) => p.param.name === 'steps')!.isDefault).toBe(true);
    expect(masked.missingInputs).toEqual(['always', 'mask']);
    expect(masked.unknownParams).toEqual(['legacy']);
    expect(masked.inputs[2].color).toBe(PORT_COLORS.MASK);
  });

  it('conditions follow chains as the engine resolves them: the CFG node hides its APG settings with its method when the model gives the settings', () => {
    const cfg = describeRegistry(createDefaultRegistry()).find((d) => d.type === 'CFG')!;
    const shown = (params: Record<string, string | number>) => nodeViewModel(cfg, { params }).params.filter((p) => p.visible).map((p) => p.param.name);
    expect(shown({ method: 'apg' })).toContain('apg_eta');
    expect(shown({ method: 'cfg' })).not.toContain('apg_eta');
    const fromModel = nodeViewModel(cfg, { params: { settings_from: 'model', method: 'apg', apg_eta: 0.3 } });
    const visible = fromModel.params.filter((p) => p.visible).map((p) => p.param.name);
    expect(visible).not.toContain('method');
    expect(visible).not.toContain('apg_eta');
    expect(visible).not.toContain('scale');
    expect(visible).toContain('mode');
    // The values shown are the ones the run takes: an inactive param its default.
    expect(fromModel.params.find((p) => p.param.name === 'apg_eta')!.value).toBe(1);
  });
});

describe('combinePatches', () => {
  type Doc = { nodes: { id: string; position: { x: number; y: number }; params: Record<string, number> }[] };
  const base: Doc = { nodes: [0, 1, 2].map((i) => ({ id: `n${i}`, position: { x: i, y: i }, params: { a: i } })) };

  /** Deterministic pseudo-random steps: moves (replace-only) and structural edits. */
  function step(seed: number): (d: Doc) => void {
    const i = seed % 3;
    switch (Math.floor(seed / 3) % 4) {
      case 0:
        return (d) => void (d.nodes[Math.min(i, d.nodes.length - 1)].position = { x: seed, y: -seed });
      case 1:
        return (d) => void (d.nodes[Math.min(i, d.nodes.length - 1)].params.a = seed);
      case 2:
        return (d) => void d.nodes.push({ id: `x${seed}`, position: { x: 0, y: 0 }, params: {} });
      default:
        return (d) => void (d.nodes.length > 1 && d.nodes.splice(i % d.nodes.length, 1));
    }
  }

  it('merged steps equal the steps applied one after another, both ways', () => {
    for (let trial = 0; trial < 40; trial++) {
      let doc = base;
      let merged = { patches: [] as never[], inversePatches: [] as never[] } as ReturnType<typeof combinePatches>;
      // Trials below 20 use moves only (the compacted path), the rest mix in structural edits.
      for (let k = 0; k < 8; k++) {
        const seed = trial < 20 ? ((trial * 7 + k * 13) % 3) + 3 * 4 * ((trial + k) % 2) : trial * 31 + k * 17;
        const [next, patches, inversePatches] = produceWithPatches(doc, step(seed));
        merged = combinePatches(merged, { patches, inversePatches });
        doc = next;
      }
      expect(applyPatches(base, merged.patches)).toEqual(doc);
      expect(applyPatches(doc, merged.inversePatches)).toEqual(base);
    }
  });
});
