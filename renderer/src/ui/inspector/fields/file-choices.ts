/** Entries of a file picker's list, built from the backend's file listing. Pure: no React, no client. */
import type { ListedFile } from '../../../engine/app-client.ts';
import { baseName, formatBytes } from '../../common/format.ts';

export interface FileChoice {
  value: string;
  label: string;
  detail?: string;
}

/** A listed file as a choice: its name, where it is (root folder name + subfolder) and its size. */
export function listedChoice(f: ListedFile): FileChoice {
  const rel = f.path.startsWith(f.root) ? f.path.slice(f.root.length).replace(/^[\\/]+/, '') : f.path;
  const dir = rel.split(/[\\/]/).slice(0, -1).join('/');
  const where = dir ? `${baseName(f.root)}/${dir}` : baseName(f.root);
  return { value: f.path, label: f.name, detail: f.isFolder ? `${where} · model folder` : `${where} · ${formatBytes(f.size)}` };
}

/** The lists in order, without repeated values (the first occurrence wins). */
export function mergeChoices(...lists: FileChoice[][]): FileChoice[] {
  const seen = new Set<string>();
  return lists.flat().filter((c) => !seen.has(c.value) && (seen.add(c.value), true));
}

export function newestFirst(files: readonly ListedFile[]): ListedFile[] {
  return [...files].sort((a, b) => (a.modified < b.modified ? 1 : a.modified > b.modified ? -1 : 0));
}
