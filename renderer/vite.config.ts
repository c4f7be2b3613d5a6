/**
 * Renderer build: `npx vite build --config renderer/vite.config.ts` writes renderer/dist, which the local
 * server (electron/server) and later the Electron window load. Relative base so it works from file:// too.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig, type UserConfig } from 'vite';
import react from '@vitejs/plugin-react';

const config: UserConfig = {
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 2000,
  },
  server: { port: 5173, strictPort: false },
};

export default defineConfig(({ command, mode }) => {
  // A build started from a test runner inherits NODE_ENV=test, which would ship React's development
  // build (slower, console noise). Vite reads NODE_ENV after loading this config, for the bundle and for
  // the JSX transform alike, so a production build says production here.
  if (command === 'build' && mode === 'production') process.env.NODE_ENV = 'production';
  return config;
});
