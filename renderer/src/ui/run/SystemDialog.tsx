/**
 * Engine ▸ System: versions, the machine, where files go, and each execution provider: whether it is here
 * and starts (with ORT's reason when it does not), and the order runs try them in.
 */
import { useEffect, useState } from 'react';
import type { SystemInfo } from '../../engine/app-client.ts';
import { useController } from '../app-context.tsx';
import { formatBytes } from '../common/format.ts';
import { describeEngineHost, describeProvider } from './system-info.ts';

export function SystemDialogBody({ onClose }: { onClose(): void }) {
  const controller = useController();
  const [info, setInfo] = useState<SystemInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    controller.client.systemInfo().then(
      (i) => live && setInfo(i),
      (e: unknown) => live && setError(e instanceof Error ? e.message : String(e)),
    );
    return () => {
      live = false;
    };
  }, [controller]);
  return (
    <>
      {error && <p className="inspector-warning">Could not ask the engine: {error}</p>}
      {!info && !error && <p className="dim">Checking the execution providers…</p>}
      {info && (
        <>
          <table className="system-table" data-testid="system-info">
            <tbody>
              <tr><th>FlowStudio</th><td>{info.appVersion}</td></tr>
              <tr><th>ONNX Runtime</th><td>{info.onnxruntimeVersion}</td></tr>
              <tr><th>Node</th><td>{info.nodeVersion}</td></tr>
              <tr><th>Machine</th><td>{`${info.platform} ${info.arch}, ${info.cpus} CPU threads, ${formatBytes(info.totalMemory)} memory (${formatBytes(info.freeMemory)} free)`}</td></tr>
              <tr><th>Engine</th><td data-testid="system-engine">{describeEngineHost(info.engine)}</td></tr>
              <tr><th>Cache folder</th><td className="mono">{info.cacheDir}</td></tr>
              <tr><th>Outputs</th><td className="mono">{info.outDir}</td></tr>
            </tbody>
          </table>
          <h3 className="system-subtitle">Execution providers</h3>
          <ul className="system-providers" data-testid="system-providers">
            {info.providers.map((p) => {
              const d = describeProvider(p);
              return (
                <li key={p.provider} data-provider={p.provider} data-state={p.state} className={`provider-${d.tone}`} title={p.error}>
                  <span className="mono">{p.provider}</span> {d.text}
                </li>
              );
            })}
          </ul>
        </>
      )}
      <div className="modal-actions">
        <button type="button" className="btn" data-testid="system-close" autoFocus onClick={onClose}>
          Close
        </button>
      </div>
    </>
  );
}
