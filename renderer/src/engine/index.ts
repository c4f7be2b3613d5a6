/** The renderer's engine client: `createEngineClient()` and the types the UI uses. */
export * from './app-client.ts';
export { createBridgeClient, type BridgeEvent, type FlowStudioBridge } from './bridge-client.ts';
export { createEngineClient, TOKEN_META_NAME } from './engine-client.ts';
export { createHttpClient, type HttpClientOptions } from './http-client.ts';
export { decodePreviewFrame, type PreviewEvent } from './preview-frame.ts';
export type { WebSocketFactory, WebSocketLike } from './event-socket.ts';
export { decodeOutputFrame } from './output-frame.ts';
