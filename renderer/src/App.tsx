/**
 * FlowStudio editor window.
 *
 * data-testid attributes for end-to-end tests:
 *   app                          the root (data-ready="true" once node types and the first document are loaded)
 *   toolbar, doc-title, doc-name (click: rename), doc-title-input, dirty-indicator
 *   menu-file, file-new, file-open, file-save, file-save-as, file-export-png, save, export-png
 *   undo, redo
 *   add-node, menu-align, menu-align-<mode>, align-<mode> (inspector), group-selection, toggle-select-mode,
 *   toggle-snap, toggle-minimap, fit-view
 *   run, run-to-here, cancel, queue-count
 *   canvas, minimap
 *   node-<id>                    a graph node (data-node-type); group-<groupId>, group-title-<groupId>
 *   handle-<id>-in-<port>, handle-<id>-out-<port>   port handles (data-port-type)
 *   status-<id>                  run status badge (data-state: queued|running|cached|done|error)
 *   preview-<id>                 live preview <img> on a sampling node (data-step)
 *   node-image-<id>              the image a saver node wrote, on the node
 *   node-error-<id>              error text on a node
 *   palette, palette-input, palette-item (data-type)
 *   inspector (data-node-id), inspector-title, inspector-run-info (data-state), inspector-error,
 *   inspector-input-<port>, inspector-run-to-here, inspector-group, inspector-group-title
 *   param-<id>-<param>           a param's input; -field, -slider, -reset, -randomize, -mode-fixed,
 *                                -mode-randomize, -browse, -choices; file-choice (browse list items)
 *   preset-library, preset-item (data-preset-id), preset-delete, recent-item
 *   output-panel, output-image (data-node-id), output-values, last-run (data-status), lightbox
 *   recovery-banner, recovery-restore, recovery-discard
 *   dialog-save-as, save-as-preset, save-as-file, save-as-name, save-as-path, save-as-confirm
 *   dialog-open, open-path, open-confirm, dialog-confirm, confirm-ok, confirm-cancel
 *   toast (data-kind: info|success|warning|error)
 *   statusbar, connection (data-state), status-running, status-problems
 */
import { ReactFlowProvider } from '@xyflow/react';
import { AppProvider, useSession } from './ui/app-context.tsx';
import { GraphCanvas } from './ui/canvas/GraphCanvas.tsx';
import { Toasts } from './ui/common/Toasts.tsx';
import type { AppController } from './ui/controller/app-controller.ts';
import { Inspector } from './ui/inspector/Inspector.tsx';
import { SearchPalette } from './ui/palette/SearchPalette.tsx';
import { Dialogs } from './ui/presets/Dialogs.tsx';
import { PresetLibrary } from './ui/presets/PresetLibrary.tsx';
import { RecoveryBanner } from './ui/presets/RecoveryBanner.tsx';
import { OutputPanel } from './ui/run/OutputPanel.tsx';
import { StatusBar } from './ui/run/StatusBar.tsx';
import { useShortcuts } from './ui/shortcuts.ts';
import { useAppCommands } from './ui/app-commands.ts';
import { useWindowTitle } from './ui/window-title.ts';
import { Toolbar } from './ui/toolbar/Toolbar.tsx';

export function App({ controller }: { controller: AppController }) {
  return (
    <AppProvider value={{ client: controller.client, store: controller.store, controller }}>
      <ReactFlowProvider>
        <Shell controller={controller} />
      </ReactFlowProvider>
    </AppProvider>
  );
}

function Shell({ controller }: { controller: AppController }) {
  useShortcuts(controller);
  useAppCommands(controller);
  useWindowTitle();
  const ready = useSession((s) => s.ready);
  const fatal = useSession((s) => s.fatal);
  if (fatal) return <FatalScreen message={fatal} />;
  return (
    <div className="app" data-testid="app" data-ready={ready ? 'true' : 'false'}>
      <Toolbar />
      <RecoveryBanner />
      <div className="workspace">
        <PresetLibrary />
        <main className="center">
          <GraphCanvas />
          <OutputPanel />
        </main>
        <Inspector />
      </div>
      <StatusBar />
      <SearchPalette />
      <Dialogs />
      <Toasts />
    </div>
  );
}

export function FatalScreen({ message }: { message: string }) {
  return (
    <div className="fatal" role="alert" data-testid="fatal">
      <h1>FlowStudio cannot start</h1>
      <p>{message}</p>
    </div>
  );
}
