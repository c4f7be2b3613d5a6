/**
 * The engine's one import of onnxruntime-node: importing ORT through here turns its telemetry off
 * (telemetry.ts) before any session can be created.
 */
import { disableOrtTelemetry } from './telemetry.ts';

disableOrtTelemetry();

export * from 'onnxruntime-node';
