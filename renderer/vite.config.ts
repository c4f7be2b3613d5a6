/**
 * Renderer build: `npx vite build --config renderer/vite.config.ts` writes renderer/dist, which the local
 * server (electron/server) and later the Electron window load. Relative base so it works from file:// too.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig(({ command, mode }) => ({
  root,
  base: './',
  plugins: [react()],
  // A build started from a test runner inherits NODE_ENV=test, which would ship React's development
  // build (slower, and it logs to the console): production builds always say production.
  define: command === 'build' && mode === 'production' ? { 'process.env.NODE_ENV': JSON.stringify('production') } : {},
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 2000,
  },
  server: { port: 5173, strictPort: false },
}));
