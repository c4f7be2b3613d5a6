/**
 * Checks and tidies an edit of the document's metadata (name, description, author, tags) before the
 * store applies it: trimmed text, bounded lengths, tags without blanks or repeats. Pure.
 */
import type { GraphDocument } from '../../../electron/engine/graph/schema.ts';

export type MetadataPatch = Partial<Pick<GraphDocument['metadata'], 'name' | 'description' | 'author' | 'tags'>>;

/** Longest name / author / tag kept (like node and group titles); descriptions may be long. */
const MAX_SHORT_TEXT = 200;
const MAX_DESCRIPTION = 10_000;
const MAX_TAGS = 50;

export function normalizeMetadataPatch(patch: MetadataPatch): { ok: true; patch: MetadataPatch } | { ok: false; reason: string } {
  const out: MetadataPatch = {};
  if (patch.name !== undefined) {
    if (typeof patch.name !== 'string') return { ok: false, reason: 'Cannot rename the document: the name must be text' };
    const name = patch.name.trim();
    // An empty name would show as nothing in the title bar and the preset library.
    if (!name) return { ok: false, reason: 'Cannot rename the document: the name is empty' };
    out.name = name.slice(0, MAX_SHORT_TEXT);
  }
  if (patch.description !== undefined) {
    if (typeof patch.description !== 'string') return { ok: false, reason: 'Cannot set the document description: it must be text' };
    out.description = patch.description.trim().slice(0, MAX_DESCRIPTION);
  }
  if (patch.author !== undefined) {
    if (typeof patch.author !== 'string') return { ok: false, reason: 'Cannot set the document author: it must be text' };
    out.author = patch.author.trim().slice(0, MAX_SHORT_TEXT);
  }
  if (patch.tags !== undefined) {
    if (!Array.isArray(patch.tags) || patch.tags.some((t) => typeof t !== 'string')) {
      return { ok: false, reason: 'Cannot set the document tags: they must be a list of text' };
    }
    const tags = [...new Set(patch.tags.map((t) => t.trim().slice(0, MAX_SHORT_TEXT)).filter(Boolean))];
    if (tags.length > MAX_TAGS) return { ok: false, reason: `Cannot set the document tags: ${tags.length} given, at most ${MAX_TAGS}` };
    out.tags = tags;
  }
  return { ok: true, patch: out };
}

/** Undo label: "Rename document" when only the name changes. */
export function metadataEditLabel(patch: MetadataPatch): string {
  const keys = Object.keys(patch);
  return keys.length === 1 && keys[0] === 'name' ? 'Rename document' : 'Edit document info';
}
