#!/usr/bin/env node
// Opt-in: fetch ONNX Runtime's CUDA 12 execution-provider libraries (needs network and an NVIDIA GPU).
// `npm install` skips this download by default (.npmrc), so the project installs offline.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const ortDir = path.dirname(require.resolve('onnxruntime-node/package.json'));
const script = path.join(ortDir, 'script', 'install.js');
console.log(`Running ${script} --onnxruntime-node-install=cuda12`);
const env = { ...process.env };
delete env.ONNXRUNTIME_NODE_INSTALL;
delete env.npm_config_onnxruntime_node_install;
const r = spawnSync(process.execPath, [script, '--onnxruntime-node-install=cuda12'], { stdio: 'inherit', cwd: ortDir, env });
if (r.status !== 0) {
  console.error('CUDA setup failed. It needs network access to the ONNX Runtime package feed and CUDA 12 + cuDNN 9 drivers.');
  process.exit(r.status ?? 1);
}
console.log('CUDA execution provider installed. Run with `--provider cuda` (the default preference tries cuda first).');
