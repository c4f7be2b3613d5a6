import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup/temp-dirs.ts'],
    // Tests that open sessions with onnxruntime-node directly get the engine's setting too (onnx/telemetry.ts).
    env: { ORT_DISABLE_TELEMETRY: '1' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
