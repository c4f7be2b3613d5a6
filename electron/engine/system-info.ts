/**
 * What the editor's System dialog shows (and a bug report needs): versions, the machine, where files go,
 * and which execution providers this machine and build have (provider-check.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SystemInfo } from './api.ts';
import { APP_ROOT } from './paths.ts';
import * as ort from './onnx/ort.ts';
import { checkProviders } from './onnx/provider-check.ts';

function appVersion(): string {
  try {
    return String((JSON.parse(fs.readFileSync(path.join(APP_ROOT, 'package.json'), 'utf8')) as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

/** The provider check creates a session per provider (WebGPU's start takes a while): once per engine. */
export function systemInfoOnce(dirs: { cacheDir: string; outDir: string }): () => Promise<SystemInfo> {
  let checked: Promise<SystemInfo['providers']> | undefined;
  let version: string | undefined;
  return async () => {
    checked ??= checkProviders();
    version ??= appVersion();
    return {
      appVersion: version,
      onnxruntimeVersion: ort.env.versions.node ?? ort.env.versions.common ?? 'unknown',
      nodeVersion: process.versions.node,
      platform: process.platform,
      arch: process.arch,
      cpus: os.cpus().length,
      totalMemory: os.totalmem(),
      freeMemory: os.freemem(),
      cacheDir: dirs.cacheDir,
      outDir: dirs.outDir,
      providers: await checked,
      engine: { runsIn: 'app', pid: process.pid },
    };
  };
}
