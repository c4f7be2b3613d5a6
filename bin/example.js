#!/usr/bin/env node
// `npm run example`: run the default example headless (no editor) and say where the outputs are.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const example = path.join(root, 'examples', 'gaussian-vp-ddim.json');
const outDir = path.resolve('out');
const { main } = await import('../electron/cli/main.ts');

let summary = '';
const stdout = { write: (s) => ((summary += s), true) };
const code = await main(['run', example, '--out', outDir], { stdout, stderr: process.stderr });
if (code !== 0) {
  process.stdout.write(summary);
  process.exit(code);
}
const files = [];
for (const ports of Object.values(JSON.parse(summary).outputs)) {
  for (const v of Object.values(ports)) if (v.kind === 'scalar' && typeof v.value === 'string' && path.isAbsolute(v.value)) files.push(v.value);
}
console.log(`\nRan ${path.relative(process.cwd(), example)} on the embedded analytic model. Outputs:`);
for (const f of files) console.log(`  ${f}`);
