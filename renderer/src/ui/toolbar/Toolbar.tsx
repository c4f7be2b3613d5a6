/**
 * The top bar: document name and state, file commands, undo/redo, arrange and view toggles, and the run
 * controls (Run, Run to here, Cancel, queue). Every button calls the same controller method as its shortcut.
 */
import { useRef, useState } from 'react';
import { useController, useEditor, useEditorStore, useSession } from '../app-context.tsx';
import { Menu, MenuItem } from '../common/Menu.tsx';
import { toast } from '../common/toasts.ts';
import type { AlignMode } from '../../graph/align.ts';

const MOD = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform) ? '⌘' : 'Ctrl+';

export function Toolbar() {
  return (
    <header className="toolbar" data-testid="toolbar">
      <Brand />
      <DocumentTitle />
      <FileButtons />
      <span className="tb-sep" />
      <HistoryButtons />
      <span className="tb-sep" />
      <ArrangeButtons />
      <span className="tb-spacer" />
      <RunControls />
    </header>
  );
}

function Brand() {
  return (
    <div className="brand" aria-label="FlowStudio">
      <span className="brand-mark" aria-hidden>
        ◈
      </span>
      <span className="brand-name">FlowStudio</span>
    </div>
  );
}

function DocumentTitle() {
  const controller = useController();
  const source = useSession((s) => s.source);
  const restored = useSession((s) => s.restoredUnsaved);
  const dirty = useEditor((s) => s.revision !== s.savedRevision) || restored;
  useEditor((s) => s.doc.metadata.name);
  const name = controller.docs.displayName();
  const kind = source.kind === 'preset' ? (source.readOnly ? 'example' : 'preset') : source.kind === 'file' ? 'file' : 'unsaved';
  const [editing, setEditing] = useState(false);
  return (
    <div className="doc-title" data-testid="doc-title" title={source.kind === 'file' ? source.path : editing ? undefined : `${name} (click to rename)`}>
      {editing ? (
        <DocumentNameInput initial={name} onDone={() => setEditing(false)} />
      ) : (
        <span
          className="doc-name editable"
          data-testid="doc-name"
          role="button"
          tabIndex={0}
          aria-label={`Document name: ${name}. Click to rename`}
          onClick={() => setEditing(true)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' || e.key === 'F2') {
              e.preventDefault();
              setEditing(true);
            }
          }}
        >
          {name}
        </span>
      )}
      {dirty && (
        <span className="dirty-dot" data-testid="dirty-indicator" title="Unsaved changes">
          ●
        </span>
      )}
      <span className="doc-kind">{kind}</span>
    </div>
  );
}

/** Rename in place: Enter or leaving the field commits (one undo step), Escape cancels. */
function DocumentNameInput({ initial, onDone }: { initial: string; onDone(): void }) {
  const store = useEditorStore();
  const [value, setValue] = useState(initial);
  // Enter/Escape end the edit themselves; the blur that follows must not commit again.
  // (A ref, not state: the blur may arrive before a re-render.)
  const ended = useRef(false);
  const commit = () => {
    if (ended.current) return;
    ended.current = true;
    if (value.trim() !== initial.trim()) {
      const result = store.getState().setMetadata({ name: value });
      if (!result.ok) toast.error(result.reason);
    }
    onDone();
  };
  const cancel = () => {
    ended.current = true;
    onDone();
  };
  return (
    <input
      className="doc-name-input"
      data-testid="doc-title-input"
      aria-label="Document name"
      autoFocus
      value={value}
      maxLength={200}
      onFocus={(e) => e.currentTarget.select()}
      onChange={(e) => setValue(e.target.value)}
      onBlur={commit}
      onKeyDown={(e) => {
        // Keep editor shortcuts (Delete, Ctrl+Z, ...) away from the canvas while typing.
        e.stopPropagation();
        if (e.key === 'Enter') {
          e.preventDefault();
          commit();
        } else if (e.key === 'Escape') {
          e.preventDefault();
          cancel();
        }
      }}
    />
  );
}

function FileButtons() {
  const controller = useController();
  const { docs } = controller;
  const hasImage = useSession((s) => s.images.length > 0);
  return (
    <nav className="tb-group" aria-label="File">
      <Menu label="File" testId="menu-file">
        <MenuItem testId="file-new" onClick={() => docs.guard(() => docs.newDocument(), 'Start a new graph')}>
          New
        </MenuItem>
        <MenuItem testId="file-open" onClick={() => void docs.showOpen()} hint={`${MOD}O`}>
          Open file…
        </MenuItem>
        <MenuItem testId="file-save" onClick={() => void docs.save()} hint={`${MOD}S`}>
          Save
        </MenuItem>
        <MenuItem testId="file-save-as" onClick={() => controller.session.setState({ dialog: { kind: 'save-as' } })} hint={`${MOD}Shift+S`}>
          Save as…
        </MenuItem>
        <MenuItem testId="file-check-files" onClick={() => void docs.reportMissingFiles({ asked: true })}>
          Check missing files…
        </MenuItem>
        <MenuItem testId="file-export-png" onClick={() => void docs.exportPng()} disabled={!hasImage}>
          Export PNG with graph
        </MenuItem>
      </Menu>
      <button type="button" className="tb-btn" data-testid="save" title={`Save (${MOD}S)`} onClick={() => void docs.save()}>
        Save
      </button>
      <button type="button" className="tb-btn" data-testid="export-png" title="Export the last output image with this graph embedded" disabled={!hasImage} onClick={() => void docs.exportPng()}>
        Export PNG
      </button>
    </nav>
  );
}

function HistoryButtons() {
  const controller = useController();
  const undoLabel = useEditor((s) => s.history.past[s.history.past.length - 1]?.label);
  const redoLabel = useEditor((s) => s.history.future[s.history.future.length - 1]?.label);
  return (
    <nav className="tb-group" aria-label="History">
      <button
        type="button"
        className="icon-btn"
        data-testid="undo"
        disabled={!undoLabel}
        title={undoLabel ? `Undo ${undoLabel} (${MOD}Z)` : 'Nothing to undo'}
        aria-label="Undo"
        onClick={() => controller.undo()}
      >
        ↶
      </button>
      <button
        type="button"
        className="icon-btn"
        data-testid="redo"
        disabled={!redoLabel}
        title={redoLabel ? `Redo ${redoLabel} (${MOD}Shift+Z)` : 'Nothing to redo'}
        aria-label="Redo"
        onClick={() => controller.redo()}
      >
        ↷
      </button>
    </nav>
  );
}

const ALIGN_ITEMS: { mode: AlignMode; label: string }[] = [
  { mode: 'left', label: 'Align left' },
  { mode: 'center-x', label: 'Align centre (horizontal)' },
  { mode: 'right', label: 'Align right' },
  { mode: 'top', label: 'Align top' },
  { mode: 'center-y', label: 'Align middle (vertical)' },
  { mode: 'bottom', label: 'Align bottom' },
  { mode: 'distribute-x', label: 'Distribute horizontally' },
  { mode: 'distribute-y', label: 'Distribute vertically' },
];

function ArrangeButtons() {
  const controller = useController();
  const snap = useSession((s) => s.snapToGrid);
  const minimap = useSession((s) => s.showMinimap);
  const selectMode = useSession((s) => s.selectMode);
  const selected = useEditor((s) => s.selection.nodes.length);
  return (
    <nav className="tb-group" aria-label="Arrange and view">
      <button type="button" className="tb-btn" data-testid="add-node" title="Add a node (Tab or double-click the canvas)" onClick={() => controller.canvas?.openPalette()}>
        + Node
      </button>
      <Menu label="Align" testId="menu-align" title="Align or distribute the selected nodes">
        {ALIGN_ITEMS.map((i) => (
          <MenuItem key={i.mode} testId={`menu-align-${i.mode}`} disabled={selected < (i.mode.startsWith('distribute') ? 3 : 2)} onClick={() => controller.align(i.mode)}>
            {i.label}
          </MenuItem>
        ))}
      </Menu>
      <button type="button" className="tb-btn" data-testid="group-selection" disabled={selected === 0} title={`Frame the selected nodes in a group (${MOD}G)`} onClick={() => controller.groupSelection()}>
        Group
      </button>
      <Toggle testId="toggle-select-mode" on={selectMode} label="Select" title="Drag selects a box (pan with the middle or right button)" onClick={() => controller.session.setState({ selectMode: !selectMode })} />
      <Toggle testId="toggle-snap" on={snap} label="Snap" title="Snap nodes to the grid" onClick={() => controller.session.setState({ snapToGrid: !snap })} />
      <Toggle testId="toggle-minimap" on={minimap} label="Map" title="Show the minimap" onClick={() => controller.session.setState({ showMinimap: !minimap })} />
      <button type="button" className="tb-btn" data-testid="fit-view" title="Fit the graph into view (F)" onClick={() => controller.canvas?.fitView()}>
        Fit
      </button>
    </nav>
  );
}

function Toggle({ on, label, title, onClick, testId }: { on: boolean; label: string; title: string; onClick(): void; testId: string }) {
  return (
    <button type="button" className={`tb-btn toggle${on ? ' on' : ''}`} aria-pressed={on} title={title} data-testid={testId} onClick={onClick}>
      {label}
    </button>
  );
}

function RunControls() {
  const controller = useController();
  const active = useEditor((s) => s.run.active);
  const queued = useEditor((s) => s.run.queue.length);
  const selected = useEditor((s) => s.selection.nodes.length);
  return (
    <nav className="tb-group run-controls" aria-label="Run">
      {queued > 0 && (
        <span className="queue-badge" data-testid="queue-count" title={`${queued} run(s) waiting`}>
          {queued} queued
        </span>
      )}
      <Menu label="Engine" testId="menu-engine" title="The memory the engine holds between runs, and the machine it runs on">
        <MenuItem testId="memory-free" onClick={() => void controller.runs.freeMemory()}>
          Free memory (unload models, drop cached results)
        </MenuItem>
        <MenuItem testId="memory-unload-models" onClick={() => void controller.runs.freeMemory(true)}>
          Unload models only
        </MenuItem>
        <MenuItem testId="engine-restart" onClick={() => void controller.runs.restartEngine()}>
          Restart engine (stops a run at once)
        </MenuItem>
        <MenuItem testId="engine-system" onClick={() => controller.session.setState({ dialog: { kind: 'system' } })}>
          System and execution providers…
        </MenuItem>
      </Menu>
      <button type="button" className="tb-btn" data-testid="run-to-here" disabled={selected === 0} title="Run only what the selected node needs" onClick={() => controller.runToSelected()}>
        Run to here
      </button>
      <button
        type="button"
        className="tb-btn btn-cancel"
        data-testid="cancel"
        disabled={!active && queued === 0}
        title="Cancel the running graph (and the queue)"
        onClick={() => void controller.runs.cancelAll()}
      >
        {active?.cancelling ? 'Cancelling…' : 'Cancel'}
      </button>
      <button type="button" className="btn-run" data-testid="run" title={`Run the graph (${MOD}Enter); while running, queues another run`} onClick={() => controller.run()}>
        <span aria-hidden>▶</span> {active ? 'Queue run' : 'Run'}
      </button>
    </nav>
  );
}
