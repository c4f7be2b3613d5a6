// Electron's main entry (package.json "main"). The sources are TypeScript, run through tsx's loader as the
// CLI does; the top-level await makes Electron wait for main.ts before 'ready' (it registers the app://
// scheme, which must happen before then).
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
