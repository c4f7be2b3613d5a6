/**
 * torchsde's BrownianTree, value for value in float32, and the noise ComfyUI's BrownianTreeNoiseSampler
 * draws from it (DPM++ SDE, DPM++ 2M/3M SDE with cpu=True and sigma as the time).
 *
 * What torchsde does (BrownianInterval with halfway_tree=True, tol=1e-6, pool_size=24, no Levy area):
 *  - times are Python-rounded to 6 decimals; the root [round(t0), round(t1)] holds W = randn(s) * sqrt(t1 - t0)
 *    (the unrounded times), s the first word of SeedSequence(entropy, pool_size);
 *  - a node splits at round((start + end) / 2); its children's increments come from the node's W and
 *    randn(s') (Brownian bridge), s' the first word of SeedSequence(entropy, spawn_key=(key, depth)), the
 *    root's key 0 and a child's key 2 * key + (0 left, 1 right);
 *  - a query [ta, tb] is cut at the midways of the nodes it straddles down to nodes that equal its pieces,
 *    and the pieces' increments are added left to right. With halfway splits the nodes, and so the
 *    values, depend only on the entropy, not on which queries came before; its LRU cache only saves work.
 * torch does `python_float * float32_tensor` in float32 with the scalar rounded to float first, so every
 * scalar coefficient below is Math.fround'ed and every tensor operation rounds to float32.
 */
import { SeedSequence } from './seed-sequence.ts';
import { TorchCpuGenerator } from './torch-random.ts';

const f = Math.fround;

/**
 * Python's round(x, ndigits) on a float: the exact binary value rounded half to even at that decimal,
 * then read back as the nearest double (what CPython's dtoa-based float.__round__ does). toFixed is not
 * enough: it breaks exact ties (0.0078125 at 6 digits) upwards.
 */
export function pythonRound(x: number, ndigits: number): number {
  if (!Number.isInteger(ndigits)) throw new Error(`pythonRound: ndigits must be an integer (got ${ndigits})`);
  if (!Number.isFinite(x) || x === 0 || ndigits > 323) return x; // CPython's NDIGITS_MAX: already exact
  if (ndigits < -308) return 0 * x;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biased = Number(bits >> 52n);
  const fraction = bits & ((1n << 52n) - 1n);
  // |x| = mantissa * 2^exponent exactly
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n);
  const exponent = (biased === 0 ? 1 : biased) - 1075;
  let num = mantissa;
  let den = 1n;
  if (exponent >= 0) num <<= BigInt(exponent);
  else den <<= BigInt(-exponent);
  if (ndigits >= 0) num *= 10n ** BigInt(ndigits);
  else den *= 10n ** BigInt(-ndigits);
  let q = num / den;
  const twiceRest = 2n * (num % den);
  if (twiceRest > den || (twiceRest === den && (q & 1n) === 1n)) q++;
  const rounded = Number(`${q}e${-ndigits}`); // correctly rounded decimal-to-double, as CPython's strtod
  return x < 0 ? -rounded : rounded;
}

interface TreeNode {
  readonly start: number;
  readonly end: number;
  readonly parent: TreeNode | undefined;
  readonly isLeft: boolean;
  /** torchsde's (spawn_key, depth): which SeedSequence child seeds this node's split. */
  readonly spawnKey: bigint;
  readonly depth: number;
  split?: { midway: number; wSeed: number; left: TreeNode; right: TreeNode };
}

/** Far deeper than any tree the 1e-6 grid allows (about log2((t1 - t0) / tol)): a guard against loops. */
const MAX_DEPTH = 1100;

/**
 * torchsde.BrownianTree(t0, zeros(size), t1, entropy, tol, pool_size) on the CPU in float32. The nodes
 * made so far stay (a few numbers each, about log2((t1 - t0) / tol) new ones per new query time); node
 * increments are kept in an LRU cache of at most cacheSize arrays (cacheSize * size * 4 bytes), which
 * only decides how much is recomputed.
 */
export class BrownianTree {
  private readonly size: number;
  private readonly entropy: number | bigint;
  private readonly poolSize: number;
  private readonly cacheSize: number;
  private readonly ndigits: number;
  private readonly root: TreeNode;
  private readonly rootW: Float32Array;
  /** Recently computed node increments, least recently used first (Map keeps insertion order). */
  private readonly cache = new Map<TreeNode, Float32Array>();

  constructor(o: { t0: number; t1: number; size: number; entropy: number | bigint; tol?: number; poolSize?: number; cacheSize?: number }) {
    const { t0, t1, size } = o;
    const tol = o.tol ?? 1e-6;
    this.poolSize = o.poolSize ?? 24;
    this.cacheSize = o.cacheSize ?? 45;
    if (!Number.isFinite(t0) || !Number.isFinite(t1) || t0 > t1) throw new Error(`BrownianTree: need finite t0 <= t1 (got ${t0}, ${t1})`);
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`BrownianTree: size must be a non-negative integer (got ${size})`);
    if (!(tol > 0) || !Number.isFinite(tol)) throw new Error(`BrownianTree: tol must be positive (got ${tol}); the halfway tree needs a grid`);
    if (!Number.isSafeInteger(this.cacheSize) || this.cacheSize < 0) throw new Error(`BrownianTree: cacheSize must be a non-negative integer (got ${this.cacheSize})`);
    this.size = size;
    this.entropy = o.entropy;
    // torchsde: ndigits = -int(math.log10(tol)), int() truncating toward zero.
    this.ndigits = -Math.trunc(Math.log10(tol));
    this.root = {
      start: this.round(t0),
      end: this.round(t1),
      parent: undefined,
      isLeft: false,
      spawnKey: 0n,
      depth: 0,
    };
    const wSeed = new SeedSequence(this.entropy, { poolSize: this.poolSize }).generateState(1)[0];
    const scale = f(Math.sqrt(t1 - t0));
    this.rootW = new TorchCpuGenerator(wSeed).randn(size);
    for (let i = 0; i < size; i++) this.rootW[i] = scale * this.rootW[i];
  }

  /**
   * W(tb) - W(ta), a fresh array. Times outside [t0, t1] are clamped to it (torchsde warns and clamps);
   * ta == tb gives zeros. Distinct times that round to the same 1e-6 grid point are refused: torchsde
   * cannot resolve them either (it recurses without end or returns zeros, depending on rounding).
   */
  increment(ta: number, tb: number): Float32Array {
    if (Number.isNaN(ta) || Number.isNaN(tb)) throw new Error(`BrownianTree: query times must be numbers (got ${ta}, ${tb})`);
    const { start, end } = this.root;
    ta = Math.min(Math.max(ta, start), end);
    tb = Math.min(Math.max(tb, start), end);
    if (ta > tb) throw new Error(`BrownianTree: query times must satisfy ta <= tb (got ${ta}, ${tb})`);
    if (ta === tb) return new Float32Array(this.size);
    const ra = this.round(ta);
    const rb = this.round(tb);
    if (ra === rb) throw new Error(`BrownianTree: ${ta} and ${tb} are closer than the tree resolves (both round to ${ra})`);
    const pieces: TreeNode[] = [];
    this.cover(this.root, ra, rb, pieces);
    // Mark the cached pieces as used before computing the others, so that computing these cannot evict them.
    const found = pieces.map((p) => (p === this.root ? this.rootW : this.cacheGet(p)));
    const out = (found[0] ?? this.nodeIncrement(pieces[0])).slice();
    for (let k = 1; k < pieces.length; k++) {
      const w = found[k] ?? this.nodeIncrement(pieces[k]);
      for (let i = 0; i < out.length; i++) out[i] += w[i]; // float32 add, in torchsde's order
    }
    return out;
  }

  private round(t: number): number {
    return pythonRound(t, this.ndigits);
  }

  /** The nodes whose union is [ta, tb], left to right: torchsde's _loc, searching down from `node`. */
  private cover(node: TreeNode, ta: number, tb: number, out: TreeNode[]): void {
    for (;;) {
      if (ta === node.start && tb === node.end) {
        out.push(node);
        return;
      }
      const { midway, left, right } = this.splitOf(node);
      if (tb <= midway) node = left;
      else if (ta >= midway) node = right;
      else {
        this.cover(left, ta, midway, out);
        node = right;
        ta = midway;
      }
    }
  }

  /** A node's halfway split, made on first need: children and the seed of their bridge noise. */
  private splitOf(node: TreeNode): NonNullable<TreeNode['split']> {
    if (node.split) return node.split;
    const midway = this.round(0.5 * (node.end + node.start));
    if (!(midway > node.start && midway < node.end) || node.depth >= MAX_DEPTH) {
      throw new Error(`BrownianTree: cannot split [${node.start}, ${node.end}] further`);
    }
    const wSeed = new SeedSequence(this.entropy, { spawnKey: [node.spawnKey, node.depth], poolSize: this.poolSize }).generateState(1)[0];
    const child = (start: number, end: number, isLeft: boolean): TreeNode => ({
      start,
      end,
      parent: node,
      isLeft,
      spawnKey: 2n * node.spawnKey + (isLeft ? 0n : 1n),
      depth: node.depth + 1,
    });
    node.split = { midway, wSeed, left: child(node.start, midway, true), right: child(midway, node.end, false) };
    return node.split;
  }

  /** A node's increment: from the nearest ancestor still in the cache (or the root), bridge by bridge. */
  private nodeIncrement(node: TreeNode): Float32Array {
    if (node === this.root) return this.rootW;
    const hit = this.cacheGet(node);
    if (hit) return hit;
    const path: TreeNode[] = [];
    let w: Float32Array | undefined;
    for (let n: TreeNode = node; w === undefined; ) {
      path.push(n);
      n = n.parent!;
      w = n === this.root ? this.rootW : this.cacheGet(n);
    }
    for (let k = path.length - 1; k >= 0; k--) {
      const parent = path[k].parent!;
      const [left, right] = this.bridge(parent, w);
      this.cachePut(parent.split!.left, left);
      this.cachePut(parent.split!.right, right);
      w = path[k].isLeft ? left : right;
    }
    return w;
  }

  /**
   * Both children's increments given the parent's W, as torchsde computes them (one child per call, the
   * same noise for both): left = left_diff * W * h_reciprocal + sqrt(var) * noise, right = W - left.
   */
  private bridge(parent: TreeNode, w: Float32Array): [Float32Array, Float32Array] {
    const { midway, wSeed } = parent.split!;
    const hReciprocal = 1 / (parent.end - parent.start);
    const leftDiff = midway - parent.start;
    const rightDiff = parent.end - midway;
    const a = f(leftDiff);
    const b = f(hReciprocal);
    const s = f(Math.sqrt(leftDiff * rightDiff * hReciprocal));
    const left = new TorchCpuGenerator(wSeed).randn(this.size); // the noise, overwritten in place
    const right = new Float32Array(this.size);
    for (let i = 0; i < this.size; i++) {
      left[i] = f(f(a * w[i]) * b) + f(s * left[i]);
      right[i] = w[i] - left[i];
    }
    return [left, right];
  }

  private cacheGet(node: TreeNode): Float32Array | undefined {
    const w = this.cache.get(node);
    if (w) {
      this.cache.delete(node); // most recently used goes last
      this.cache.set(node, w);
    }
    return w;
  }

  private cachePut(node: TreeNode, w: Float32Array): void {
    if (this.cacheSize === 0) return;
    this.cache.delete(node);
    while (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(node, w);
  }
}

/**
 * ComfyUI's BrownianTreeNoiseSampler(x, sigma_min, sigma_max, seed, cpu=True) with the identity
 * transform, for one integer seed and a latent of `size` elements (batch included: the tree's w0 is
 * zeros_like(x)). noise(sigma, sigmaNext) = sign * tree(lo, hi) / sqrt(|sigmaNext - sigma|), all float32,
 * sign -1 when sigma > sigmaNext. Sigmas are taken as float32 values (ComfyUI's sigmas tensor).
 * As in ComfyUI, equal sigmas give 0 / 0 = NaN.
 */
export function comfyBrownianNoise(o: { sigmaMin: number; sigmaMax: number; size: number; seed: number | bigint }): (sigma: number, sigmaNext: number) => Float32Array {
  const sMin = f(o.sigmaMin);
  const sMax = f(o.sigmaMax);
  // BatchedBrownianTree.sort: (a, b, 1) if a < b else (b, a, -1), for the tree's ends and each query.
  const treeSign = sMin < sMax ? 1 : -1;
  const tree = new BrownianTree({ t0: Math.min(sMin, sMax), t1: Math.max(sMin, sMax), size: o.size, entropy: o.seed });
  return (sigma, sigmaNext) => {
    const s = f(sigma);
    const sNext = f(sigmaNext);
    const sign = treeSign * (s < sNext ? 1 : -1);
    const w = s < sNext ? tree.increment(s, sNext) : tree.increment(sNext, s);
    const scale = f(Math.sqrt(Math.abs(f(sNext - s))));
    for (let i = 0; i < w.length; i++) w[i] = (sign * w[i]) / scale;
    return w;
  };
}
