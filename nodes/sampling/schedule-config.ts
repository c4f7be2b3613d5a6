/**
 * Typed reads of diffusers scheduler_config.json keys, with the error message naming the key. Absent
 * (or null) keys take the caller's default, as diffusers' from_config does with the class defaults.
 */
import type { SchedulerConfig } from '../core/values.ts';

export function cfgNumber(cfg: SchedulerConfig, key: string, fallback: number): number {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`scheduler config: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** An integer key (steps_offset: diffusers adds it to an int64 array, which numpy refuses for a fraction). */
export function cfgInt(cfg: SchedulerConfig, key: string, fallback: number): number {
  const v = cfgNumber(cfg, key, fallback);
  if (!Number.isInteger(v)) throw new Error(`scheduler config: "${key}" must be a whole number, got ${v}`);
  return v;
}

/** A number key whose absence means "not set" (diffusers' None). */
export function cfgOptionalNumber(cfg: SchedulerConfig, key: string): number | undefined {
  const v = cfg[key];
  return v === undefined || v === null ? undefined : cfgNumber(cfg, key, 0);
}

export function cfgBool(cfg: SchedulerConfig, key: string, fallback: boolean): boolean {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new Error(`scheduler config: "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

export function cfgString<T extends string>(cfg: SchedulerConfig, key: string, options: readonly T[], fallback: T): T {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string' || !options.includes(v as T)) {
    throw new Error(`scheduler config: "${key}" must be one of ${options.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}
