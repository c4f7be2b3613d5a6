/**
 * ONNX Runtime's Linux and macOS builds (1.30) start a telemetry system with the first session: a usage
 * database under ~/.cache/Microsoft/DeveloperTools/.onnxruntime, HTTPS uploads when the machine is online,
 * and an empty /tmp/mat-debug-<pid>.log left behind by every process. FlowStudio runs models locally and
 * sends nothing anywhere, so it sets ORT's own switch, ORT_DISABLE_TELEMETRY, before any session exists.
 * A value the user set is left as it is.
 *
 * ORT reads the variable from the process environment when its first session starts. A worker thread's
 * process.env is its own copy, which native code never sees: call this on the main thread before
 * starting a worker that creates sessions (WorkerEngine does).
 */
export const ORT_TELEMETRY_VARIABLE = 'ORT_DISABLE_TELEMETRY';

export function disableOrtTelemetry(env: NodeJS.ProcessEnv = process.env): void {
  if (env[ORT_TELEMETRY_VARIABLE] === undefined) env[ORT_TELEMETRY_VARIABLE] = '1';
}
