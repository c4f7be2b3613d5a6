/**
 * The executor's output cache: node outputs by cache key, least-recently-used first out, bounded by an
 * estimate of the bytes held. With a spill folder, entries too big to keep in memory (over the spill
 * threshold) and entries pushed out of memory are written to disk instead of dropped, and read back on a
 * hit; values without tensors are just dropped. Operations run one at a time (a promise chain), so an
 * eviction's file writes never interleave with a lookup.
 */
import { statfs } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { estimateOutputsBytes } from './value-size.ts';
import { containsTensor, removeFiles, restoreValue, spillValue, type SpilledValue } from './spill.ts';
import { makeDirs } from '../make-dirs.ts';

export type CachedOutputs = Record<string, unknown>;

export interface OutputCacheOptions {
  /** Memory budget for cached values. Default 2 GiB (an eighth of the machine's memory if less). */
  maxBytes?: number;
  /** Folder for spill files; without it nothing is written to disk. */
  spillDir?: string;
  /** Entries larger than this go straight to disk (when spillDir is set). Default 64 MiB. */
  spillThresholdBytes?: number;
  /** Disk budget for spill files; the least recently used are deleted beyond it. Default 4 x maxBytes. */
  maxDiskBytes?: number;
  /** Where problems that must not fail a run are reported (a spill that failed, a corrupt spill file). */
  onError?: (message: string, error: unknown) => void;
  /**
   * Free space a spill must leave on the spill folder's disk (default 2 GiB): the cache never fills the
   * disk the user's outputs go to. An entry that would is dropped instead, as without a spill folder.
   */
  minFreeDiskBytes?: number;
  /** Free bytes on the disk holding `dir` (tests stand in for a full disk). Default: statfs. */
  freeDiskBytes?: (dir: string) => Promise<number>;
}

export interface OutputCacheStats {
  hits: number;
  misses: number;
  /** Entries held, in memory or on disk. */
  entries: number;
  entriesOnDisk: number;
  bytesInMemory: number;
  bytesOnDisk: number;
}

/** 2 GiB, or an eighth of the machine's memory when that is less: an 8 GB laptop also holds a model and the OS. */
export const DEFAULT_CACHE_MAX_BYTES = Math.min(2 * 1024 ** 3, Math.floor(totalmem() / 8));
export const DEFAULT_SPILL_THRESHOLD_BYTES = 64 * 1024 ** 2;
export const DEFAULT_MIN_FREE_DISK_BYTES = 2 * 1024 ** 3;

async function statfsFreeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

interface MemoryEntry {
  where: 'memory';
  outputs: CachedOutputs;
  /** Estimated bytes while in memory. */
  bytes: number;
}
interface DiskEntry {
  where: 'disk';
  spilled: SpilledValue;
  /** Estimated bytes the value takes once read back into memory. */
  bytes: number;
}
type Entry = MemoryEntry | DiskEntry;

export class OutputCache {
  readonly maxBytes: number;
  readonly spillDir: string | undefined;
  readonly spillThresholdBytes: number;
  readonly maxDiskBytes: number;
  readonly minFreeDiskBytes: number;
  private readonly freeDiskBytes: (dir: string) => Promise<number>;
  /** The disk was too full to spill once: said once, not at every eviction. */
  private diskFullReported = false;

  /** Insertion order is recency order: the first entry is the least recently used. */
  private readonly entries = new Map<string, Entry>();
  private hits = 0;
  private misses = 0;
  private bytesInMemory = 0;
  private bytesOnDisk = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly filePrefix = `fs-${process.pid}-${randomBytes(4).toString('hex')}`;
  private fileSeq = 0;
  private spillDirReady = false;
  private readonly onError: (message: string, error: unknown) => void;

  constructor(o: OutputCacheOptions = {}) {
    this.maxBytes = nonNegative('maxBytes', o.maxBytes ?? DEFAULT_CACHE_MAX_BYTES);
    this.spillDir = o.spillDir;
    this.spillThresholdBytes = nonNegative('spillThresholdBytes', o.spillThresholdBytes ?? DEFAULT_SPILL_THRESHOLD_BYTES);
    this.maxDiskBytes = nonNegative('maxDiskBytes', o.maxDiskBytes ?? 4 * this.maxBytes);
    this.minFreeDiskBytes = nonNegative('minFreeDiskBytes', o.minFreeDiskBytes ?? DEFAULT_MIN_FREE_DISK_BYTES);
    this.freeDiskBytes = o.freeDiskBytes ?? statfsFreeBytes;
    this.onError = o.onError ?? ((message, error) => console.warn(`[output-cache] ${message}:`, error));
  }

  get stats(): OutputCacheStats {
    let onDisk = 0;
    for (const e of this.entries.values()) if (e.where === 'disk') onDisk++;
    return {
      hits: this.hits,
      misses: this.misses,
      entries: this.entries.size,
      entriesOnDisk: onDisk,
      bytesInMemory: this.bytesInMemory,
      bytesOnDisk: this.bytesOnDisk,
    };
  }

  /** Whether an entry is held (memory or disk); counts neither a hit nor a miss. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Where an entry is held, if it is: for diagnostics and tests. */
  location(key: string): 'memory' | 'disk' | undefined {
    return this.entries.get(key)?.where;
  }

  /** The outputs stored under `key` (read back from disk if spilled), marking it most recently used. */
  get(key: string): Promise<CachedOutputs | undefined> {
    return this.serial(async () => {
      const entry = this.entries.get(key);
      if (!entry) {
        this.misses++;
        return undefined;
      }
      this.touch(key, entry);
      if (entry.where === 'memory') {
        this.hits++;
        return entry.outputs;
      }
      let outputs: CachedOutputs;
      try {
        outputs = (await restoreValue(entry.spilled.skeleton)) as CachedOutputs;
      } catch (e) {
        this.onError(`dropping cache entry ${key.slice(0, 12)}: its spill files could not be read`, e);
        await this.remove(key);
        this.misses++;
        return undefined;
      }
      this.hits++;
      // Small entries were only on disk because memory was full; bring them back as the freshest entry.
      if (entry.bytes <= this.spillThresholdBytes && entry.bytes <= this.maxBytes) {
        await this.remove(key);
        this.entries.set(key, { where: 'memory', outputs, bytes: entry.bytes });
        this.bytesInMemory += entry.bytes;
        await this.evictMemory();
      }
      return outputs;
    });
  }

  /** Stores outputs under `key`, replacing any previous entry, then evicts to stay within budget. */
  set(key: string, outputs: CachedOutputs): Promise<void> {
    return this.serial(async () => {
      await this.remove(key);
      const bytes = estimateOutputsBytes(outputs);
      // Size first: the tensor walk is only worth doing for entries big enough to spill.
      const tooBig = bytes > this.spillThresholdBytes || bytes > this.maxBytes;
      if (tooBig && this.spillDir !== undefined && containsTensor(outputs)) {
        if (await this.spillToDisk(key, outputs, bytes)) return;
      }
      if (bytes > this.maxBytes) return; // cannot be held at all: the run keeps its own reference
      this.entries.set(key, { where: 'memory', outputs, bytes });
      this.bytesInMemory += bytes;
      await this.evictMemory();
    });
  }

  delete(key: string): Promise<void> {
    return this.serial(() => this.remove(key));
  }

  /** Drops every entry and deletes every spill file. Hit/miss counters keep counting. */
  clear(): Promise<void> {
    return this.serial(async () => {
      const files: string[] = [];
      for (const e of this.entries.values()) if (e.where === 'disk') files.push(...e.spilled.files);
      this.entries.clear();
      this.bytesInMemory = 0;
      this.bytesOnDisk = 0;
      // Never rejects: callers clear on shutdown without awaiting.
      await removeFiles(files).catch((e) => this.onError('could not delete spill files', e));
    });
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const result = this.tail.then(op);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private touch(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
  }

  private async remove(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    if (entry.where === 'memory') {
      this.bytesInMemory -= entry.bytes;
    } else {
      this.bytesOnDisk -= entry.spilled.bytes;
      await removeFiles(entry.spilled.files).catch((e) => this.onError('could not delete spill files', e));
    }
  }

  /** Pushes least recently used memory entries out (to disk when possible) until memory fits the budget. */
  private async evictMemory(): Promise<void> {
    while (this.bytesInMemory > this.maxBytes) {
      const oldest = this.oldest('memory');
      if (!oldest) break;
      const [key, entry] = oldest;
      this.bytesInMemory -= entry.bytes;
      // spillToDisk replaces the entry in place, so it keeps its recency (still among the oldest).
      const kept = this.spillDir !== undefined && containsTensor(entry.outputs) && (await this.spillToDisk(key, entry.outputs, entry.bytes));
      if (!kept) this.entries.delete(key);
    }
  }

  /**
   * Writes an entry to disk and records it under `key` (in place when the key is present, else as the most
   * recent entry). Returns false when it could not be written or does not fit the disk budget.
   */
  private async spillToDisk(key: string, outputs: CachedOutputs, bytes: number): Promise<boolean> {
    const dir = this.spillDir!;
    let spilled: SpilledValue;
    try {
      if (!this.spillDirReady) {
        await makeDirs(dir);
        this.spillDirReady = true;
      }
      const free = await this.freeDiskBytes(dir);
      if (free - bytes < this.minFreeDiskBytes) {
        if (!this.diskFullReported) {
          this.diskFullReported = true;
          this.onError(`not spilling cache entries to ${dir}: the disk has ${formatGiB(free)} free, and spilling keeps ${formatGiB(this.minFreeDiskBytes)} free for everything else`, undefined);
        }
        return false;
      }
      this.diskFullReported = false;
      spilled = await spillValue(outputs, () => join(dir, `${this.filePrefix}-${++this.fileSeq}.tensor`));
    } catch (e) {
      this.onError(`could not spill cache entry ${key.slice(0, 12)} to ${dir}`, e);
      return false;
    }
    if (spilled.bytes > this.maxDiskBytes) {
      await removeFiles(spilled.files).catch((e) => this.onError('could not delete spill files', e));
      return false;
    }
    this.entries.set(key, { where: 'disk', spilled, bytes } satisfies DiskEntry);
    this.bytesOnDisk += spilled.bytes;
    while (this.bytesOnDisk > this.maxDiskBytes) {
      const victim = this.oldest('disk', key);
      if (!victim) break;
      await this.remove(victim[0]);
    }
    return true;
  }

  private oldest<W extends Entry['where']>(where: W, except?: string): [string, Extract<Entry, { where: W }>] | undefined {
    for (const [k, e] of this.entries) {
      if (e.where === where && k !== except) return [k, e as Extract<Entry, { where: W }>];
    }
    return undefined;
  }
}

function nonNegative(name: string, value: number): number {
  if (!(value >= 0)) throw new Error(`OutputCache: ${name} must be a non-negative number of bytes, got ${value}`);
  return value;
}

function formatGiB(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}
