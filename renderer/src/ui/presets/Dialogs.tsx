/** Modal dialogs: Save As (preset library or a graph file path), Open file (path or recent), System, Missing files, confirmations. */
import { useState } from 'react';
import { useController, useEditor, useSession } from '../app-context.tsx';
import { toast } from '../common/toasts.ts';
import { SystemDialogBody } from '../run/SystemDialog.tsx';
import { MissingFilesBody } from '../run/MissingFilesDialog.tsx';
import type { MissingFile } from '../../engine/app-client.ts';

export function Dialogs() {
  const dialog = useSession((s) => s.dialog);
  if (!dialog) return null;
  if (dialog.kind === 'save-as') return <SaveAsDialog />;
  if (dialog.kind === 'open-file') return <OpenFileDialog />;
  if (dialog.kind === 'system') return <SystemDialog />;
  if (dialog.kind === 'missing-files') return <MissingFilesDialog missing={dialog.missing} />;
  return <ConfirmDialog message={dialog.message} then={dialog.then} />;
}

function Modal({ title, children, onClose, testId }: { title: string; children: React.ReactNode; onClose(): void; testId: string }) {
  return (
    <div className="modal-backdrop" onPointerDown={(e) => e.target === e.currentTarget && onClose()}>
      <div
        className="modal"
        role="dialog"
        aria-modal="true"
        aria-label={title}
        data-testid={testId}
        onKeyDown={(e) => {
          if (e.key === 'Escape') onClose();
          e.stopPropagation();
        }}
      >
        <h2 className="modal-title">{title}</h2>
        {children}
      </div>
    </div>
  );
}

function useClose() {
  const controller = useController();
  return () => controller.session.setState({ dialog: null });
}

function SaveAsDialog() {
  const controller = useController();
  const close = useClose();
  const docName = useEditor((s) => s.doc.metadata.name);
  const source = useSession((s) => s.source);
  const [where, setWhere] = useState<'preset' | 'file'>(source.kind === 'file' ? 'file' : 'preset');
  // The document's name (renamed in the title bar or not); an unrenamed example gets a copy's name.
  const [name, setName] = useState(source.kind === 'preset' && source.readOnly && docName === source.name ? `${source.name} (copy)` : docName || 'Untitled');
  const [path, setPath] = useState(source.kind === 'file' ? source.path : `${(docName || 'untitled').replace(/[^\w.-]+/g, '-')}.flowstudio`);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    const ok = where === 'preset' ? await controller.docs.saveAsPreset(name) : await controller.docs.saveToFile(path);
    setBusy(false);
    if (ok) close();
  };
  return (
    <Modal title="Save as" onClose={close} testId="dialog-save-as">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <div className="segmented wide" role="radiogroup">
          <button type="button" role="radio" aria-checked={where === 'preset'} className={where === 'preset' ? 'active' : ''} data-testid="save-as-preset" onClick={() => setWhere('preset')}>
            Preset library
          </button>
          <button type="button" role="radio" aria-checked={where === 'file'} className={where === 'file' ? 'active' : ''} data-testid="save-as-file" onClick={() => setWhere('file')}>
            Graph file
          </button>
        </div>
        {where === 'preset' ? (
          <label className="field">
            <span className="field-label">Preset name</span>
            <input className="text-input" data-testid="save-as-name" autoFocus value={name} onChange={(e) => setName(e.target.value)} />
          </label>
        ) : (
          <label className="field">
            <span className="field-label">File path (relative paths go to your graphs folder)</span>
            <span className="field-row">
              <input className="text-input mono" data-testid="save-as-path" autoFocus value={path} onChange={(e) => setPath(e.target.value)} />
              {controller.client.chooseGraphFile && (
                <button
                  type="button"
                  className="btn"
                  data-testid="save-as-browse"
                  onClick={() =>
                    void controller.client.chooseGraphFile!('save', path).then(
                      (chosen) => chosen && setPath(chosen),
                      (e: unknown) => toast.error(`Cannot show the save dialog: ${e instanceof Error ? e.message : String(e)}`),
                    )
                  }
                >
                  Browse…
                </button>
              )}
            </span>
          </label>
        )}
        <div className="modal-actions">
          <button type="button" className="btn" onClick={close}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" data-testid="save-as-confirm" disabled={busy}>
            Save
          </button>
        </div>
      </form>
    </Modal>
  );
}

function OpenFileDialog() {
  const controller = useController();
  const close = useClose();
  const recent = useSession((s) => s.recent);
  const [path, setPath] = useState(recent[0]?.path ?? '');
  const open = (p: string) => {
    close();
    controller.docs.guard(() => void controller.docs.openFile(p), `Open ${p}`);
  };
  return (
    <Modal title="Open graph file" onClose={close} testId="dialog-open">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (path.trim()) open(path.trim());
        }}
      >
        <label className="field">
          <span className="field-label">Path of a .flowstudio or .json graph</span>
          <input className="text-input mono" data-testid="open-path" autoFocus value={path} onChange={(e) => setPath(e.target.value)} />
        </label>
        {recent.length > 0 && (
          <ul className="library-list compact">
            {recent.map((r) => (
              <li key={r.path}>
                <button type="button" className="library-open" onClick={() => open(r.path)} title={r.path}>
                  <span className="library-name">{r.name}</span>
                  <span className="library-desc mono">{r.path}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
        <p className="dim small">You can also drop a graph .json or a PNG FlowStudio wrote onto the canvas.</p>
        <div className="modal-actions">
          <button type="button" className="btn" onClick={close}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" data-testid="open-confirm" disabled={!path.trim()}>
            Open
          </button>
        </div>
      </form>
    </Modal>
  );
}

function SystemDialog() {
  const close = useClose();
  return (
    <Modal title="System" onClose={close} testId="dialog-system">
      <SystemDialogBody onClose={close} />
    </Modal>
  );
}

function MissingFilesDialog({ missing }: { missing: MissingFile[] }) {
  const close = useClose();
  return (
    <Modal title="Missing files" onClose={close} testId="dialog-missing-files">
      <MissingFilesBody missing={missing} onClose={close} />
    </Modal>
  );
}

function ConfirmDialog({ message, then }: { message: string; then(): void }) {
  const close = useClose();
  return (
    <Modal title="Are you sure?" onClose={close} testId="dialog-confirm">
      <p>{message}</p>
      <div className="modal-actions">
        <button type="button" className="btn" data-testid="confirm-cancel" autoFocus onClick={close}>
          Cancel
        </button>
        <button
          type="button"
          className="btn btn-danger"
          data-testid="confirm-ok"
          onClick={() => {
            close();
            then();
          }}
        >
          Continue
        </button>
      </div>
    </Modal>
  );
}
