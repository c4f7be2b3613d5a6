/**
 * Graph files the user opens and saves by path. Paths come from the UI (and so, over HTTP, from a
 * browser), so they go through the engine's file service: they must resolve, symlinks followed,
 * inside the allowed roots. Only graph extensions are written, so a save cannot replace other files.
 */
import path from 'node:path';
import { createFileService } from '../files.ts';
import { parseGraphValue, readGraphFile, writeGraphFile } from '../graph/io.ts';
import { GRAPH_FILE_EXTENSION, type GraphDocument } from '../graph/schema.ts';
import type { FileService } from '../../../nodes/core/types.ts';
import { BadRequestError } from './errors.ts';

/** The extensions graph files are opened and saved with (with the dot). */
export const GRAPH_EXTENSIONS = [GRAPH_FILE_EXTENSION, '.json'];
/** PNGs are let through on open so the reader can say that embedded graphs are not supported yet. */
const OPENABLE_EXTENSIONS = [...GRAPH_EXTENSIONS, '.png'];

export interface GraphFilesOptions {
  /** Folders graph files may be opened from and saved to; relative save paths land in the first. */
  roots: string[];
  /** Folders graph files may only be opened from (the shipped examples). */
  readOnlyRoots?: string[];
}

export class GraphFiles {
  private files!: FileService;
  private readonly roots: string[];
  private readonly readOnlyRoots: string[];

  constructor(opts: GraphFilesOptions) {
    if (opts.roots.length === 0) throw new Error('GraphFiles needs at least one root folder');
    this.roots = [...opts.roots];
    this.readOnlyRoots = [...(opts.readOnlyRoots ?? [])];
    this.rebuild();
  }

  /** One more folder to open from and save to (a folder the user opened a graph file in, from the system). */
  addRoot(dir: string): void {
    if (this.roots.includes(dir)) return;
    this.roots.push(dir);
    this.rebuild();
  }

  private rebuild(): void {
    this.files = createFileService({
      outDir: this.roots[0],
      readRoots: [...this.roots, ...this.readOnlyRoots],
      writeRoots: this.roots.slice(1),
    });
  }

  /** Whether a path has a graph file's extension. */
  static isGraphPath(file: string): boolean {
    return GRAPH_EXTENSIONS.includes(path.extname(file).toLowerCase());
  }

  /** Reads, parses and migrates; returns the document and the real path it came from. */
  open(file: string): { doc: GraphDocument; path: string } {
    if (typeof file === 'string' && !OPENABLE_EXTENSIONS.includes(path.extname(file).toLowerCase())) {
      throw new BadRequestError(`Cannot open "${file}": graph files end in ${GRAPH_EXTENSIONS.join(' or ')}`);
    }
    const real = this.files.resolveRead(file);
    return { doc: readGraphFile(real), path: real };
  }

  /** Writes atomically; a path without an extension gets ".flowstudio". Returns the absolute path written. */
  save(file: string, graph: unknown): string {
    if (typeof file !== 'string') throw new BadRequestError('No file path given to save');
    const ext = path.extname(file).toLowerCase();
    if (ext && !GRAPH_EXTENSIONS.includes(ext)) {
      throw new BadRequestError(`Cannot save "${file}": graph files end in ${GRAPH_EXTENSIONS.join(' or ')}`);
    }
    const doc = parseGraphValue(graph);
    const target = this.files.resolveWrite(ext ? file : file + GRAPH_FILE_EXTENSION);
    writeGraphFile(target, { ...doc, metadata: { ...doc.metadata, modified: new Date().toISOString() } });
    return target;
  }
}
