/** Types for electron-launch.js (plain JS: `npm start` runs it before tsx is registered). */
export function findElectron(root: string, env?: Record<string, string | undefined>): string | undefined;
export function runElectron(binary: string, root: string, args: readonly string[], env?: Record<string, string | undefined>): Promise<number | 'not-started'>;
