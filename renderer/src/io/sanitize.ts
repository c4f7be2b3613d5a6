/**
 * A copy of a graph that is safe to share (exported PNGs, shared presets): no absolute paths, no user
 * name, models referenced by name.
 *
 * - File params (per the node declarations): `embedded:*` refs stay; any other path keeps only its last
 *   segment (a model folder -> its folder name, an image -> its file name), so nothing of the sender's
 *   disk layout (which usually holds their user name) leaves the machine. Relative paths without `..`
 *   stay as they are. For node types this build does not know, string params that look like absolute
 *   paths (no whitespace, a drive, UNC, `~` or `/` start) are treated the same way.
 * - `metadata.author` is cleared: no reliable test tells a real name from an OS login, so the author
 *   is kept only when the user opted in with the tag "keep-author".
 * - Model content hashes (optional map: model ref or name -> digest) are recorded as metadata tags
 *   `model-hash:<name>=<digest>`; Export PNG passes model names and sha256 hex digests (AppAPI.modelHashes).
 *   The v1 schema has no field for them and tags survive every reader; a later schema version can lift
 *   them into a proper field.
 */
import type { NodeTypeDescription } from '../../../electron/engine/graph/describe.ts';
import type { GraphDocument } from '../../../electron/engine/graph/schema.ts';
import type { NodeTypeIndex } from '../graph/node-types.ts';

export const KEEP_AUTHOR_TAG = 'keep-author';
export const MODEL_HASH_TAG_PREFIX = 'model-hash:';
const EMBEDDED_PREFIX = 'embedded:';

export interface SanitizeOptions {
  /** Model ref as written in the graph (path or name) -> content digest, e.g. the sha256 hex "ab12...". */
  modelHashes?: Readonly<Record<string, string>>;
  /**
   * Models the backend knows (EngineAPI.listModels()): a file param pointing at one of their folders
   * is replaced by its ref when that ref is shareable (e.g. "embedded:gaussian-vp"), else by the folder name.
   */
  models?: readonly { ref: string; folder: string }[];
}

export interface SanitizeReport {
  doc: GraphDocument;
  /** What was changed, one line each ("sampler_1.path: /home/ann/x.png -> x.png"), for a confirmation dialog. */
  changes: string[];
}

export function sanitizeForExport(doc: GraphDocument, types: NodeTypeIndex | readonly NodeTypeDescription[], opts: SanitizeOptions = {}): SanitizeReport {
  const index: NodeTypeIndex = Array.isArray(types) ? Object.fromEntries((types as readonly NodeTypeDescription[]).map((t) => [t.type, t])) : (types as NodeTypeIndex);
  const out: GraphDocument = structuredClone(doc);
  const changes: string[] = [];
  const modelNames = new Map<string, string>();
  const refByFolder = new Map((opts.models ?? []).map((m) => [normalizePath(m.folder), m.ref]));

  for (const node of out.nodes) {
    const desc = index[node.type];
    for (const [name, value] of Object.entries(node.params)) {
      if (typeof value !== 'string' || value === '') continue;
      const param = desc?.params.find((p) => p.name === name);
      // Unknown type: only a space-free absolute-looking string counts (a prompt may start with "/").
      const isFile = param ? param.kind === 'file' : !/\s/.test(value) && looksLikeAbsolutePath(value);
      if (!isFile) continue;
      const knownRef = refByFolder.get(normalizePath(value));
      const safe = knownRef !== undefined && shareablePath(knownRef) === knownRef ? knownRef : shareablePath(value);
      if (param?.kind === 'file' && param.fileKind === 'model') modelNames.set(value, safe);
      if (safe !== value) {
        node.params[name] = safe;
        changes.push(`${node.id}.${name}: ${value} -> ${safe}`);
      }
    }
  }

  if (out.metadata.author && !out.metadata.tags.includes(KEEP_AUTHOR_TAG)) {
    changes.push(`metadata.author: "${out.metadata.author}" removed`);
    out.metadata.author = '';
  }

  const hashes = Object.entries(opts.modelHashes ?? {});
  if (hashes.length) {
    const tags = out.metadata.tags.filter((t) => !t.startsWith(MODEL_HASH_TAG_PREFIX));
    for (const [ref, digest] of hashes) {
      const name = modelNames.get(ref) ?? shareablePath(ref);
      tags.push(`${MODEL_HASH_TAG_PREFIX}${name}=${digest}`);
    }
    out.metadata.tags = tags;
  }
  return { doc: out, changes };
}

/** Model name -> digest from the tags sanitizeForExport wrote (to find a model a shared graph needs). */
export function modelHashesFromTags(tags: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tag of tags) {
    if (!tag.startsWith(MODEL_HASH_TAG_PREFIX)) continue;
    const body = tag.slice(MODEL_HASH_TAG_PREFIX.length);
    const eq = body.lastIndexOf('=');
    if (eq > 0) out[body.slice(0, eq)] = body.slice(eq + 1);
  }
  return out;
}

/** Folder paths compare equal regardless of separators, a trailing slash and (Windows) case of the drive. */
function normalizePath(p: string): string {
  return p.replace(/\\/g, '/').replace(/\/+$/, '').replace(/^([a-z]):/, (_, d: string) => `${d.toUpperCase()}:`);
}

/** `embedded:*` and harmless relative paths unchanged; anything else reduced to its last segment. */
export function shareablePath(value: string): string {
  if (value.startsWith(EMBEDDED_PREFIX)) return value;
  const segments = value.split(/[\\/]+/);
  const escapes = segments.includes('..');
  if (!looksLikeAbsolutePath(value) && !escapes) return value;
  const last = segments.filter((s) => s !== '' && s !== '.' && s !== '..').pop() ?? '';
  return last.replace(/^[A-Za-z]:$/, '');
}

/** Starts at a POSIX root, home (~), Windows drive (C:\ or C:/), UNC share (\\server) or file:// URL. */
export function looksLikeAbsolutePath(value: string): boolean {
  return /^(\/|~[\\/]|~$|[A-Za-z]:[\\/]|\\\\|file:\/\/)/.test(value);
}
