/**
 * Preset names become file names. Names are user text (and may arrive over HTTP), so they are reduced
 * to a portable file stem: no separators, no leading dots, no Windows device names, bounded length.
 */
import { BadRequestError } from './errors.ts';

const MAX_STEM_LENGTH = 80;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$/i;

/** A file stem for a preset name: letters, digits, space, `_`, `-`, `.`; anything else becomes `-`. */
export function presetFileStem(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '') throw new BadRequestError('A preset needs a non-empty name');
  let stem = name
    .normalize('NFC')
    .trim()
    .replace(/[^\p{L}\p{N} _.-]+/gu, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[\s.-]+/, '') // no hidden files, no "..", no leading "-" (reads like an option)
    .slice(0, MAX_STEM_LENGTH)
    .replace(/[\s.]+$/, ''); // Windows drops trailing dots and spaces
  if (WINDOWS_RESERVED.test(stem)) stem = `${stem}_`;
  if (stem === '') throw new BadRequestError(`Preset name ${JSON.stringify(name)} has no usable characters (use letters or digits)`);
  return stem;
}

/**
 * True when a stem taken from an id can only name a file directly inside its folder. Looser than
 * presetFileStem (files the user put in the folder by hand keep their names), but never a path.
 */
export function isPlainFileStem(stem: string): boolean {
  return stem !== '' && !stem.startsWith('.') && !/[\\/\0:]/.test(stem) && stem.length <= 255;
}
