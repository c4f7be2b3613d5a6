/**
 * Picks the transport: the Electron bridge when the preload exposed one, else the local server this
 * page was loaded from (token from the <meta> tag the server injects into index.html).
 */
import type { AppClient } from './app-client.ts';
import { createBridgeClient, type FlowStudioBridge } from './bridge-client.ts';
import { createHttpClient } from './http-client.ts';

export const TOKEN_META_NAME = 'flowstudio-token';

export function createEngineClient(): AppClient {
  const bridge = (globalThis as { flowstudio?: FlowStudioBridge }).flowstudio;
  if (bridge) return createBridgeClient(bridge);
  const token = document.querySelector(`meta[name="${TOKEN_META_NAME}"]`)?.getAttribute('content');
  if (!token) {
    throw new Error(
      `No engine connection: this page has no <meta name="${TOKEN_META_NAME}"> (open it from the URL \`npm start\` or \`flowstudio serve\` prints)`,
    );
  }
  return createHttpClient({ baseUrl: location.origin, token });
}
