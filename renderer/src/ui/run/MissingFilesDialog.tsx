/**
 * The Missing files dialog: after a graph is opened, the files it reads that are not here (a shared
 * graph's models and images), each with the nodes that read it and why it cannot be read. Locate… (where
 * the app has the system's file dialog) points all of those nodes at the chosen file in one undo step and,
 * for a model the graph recorded a hash for, says whether it is the same model. Files of the same name
 * under the folders FlowStudio reads from are offered too (Use). Show selects the nodes, so their file
 * fields in the inspector can be used; Check again looks once more (after copying files in).
 */
import { useEffect, useMemo, useState } from 'react';
import type { FileListKind, ListedFile, MissingFile } from '../../engine/app-client.ts';
import { candidatesFor, describeHashCheck, fileNameOf, groupMissingFiles, type MissingGroup } from '../../graph/missing-files.ts';
import { useClient, useController, useEditor, useEditorStore } from '../app-context.tsx';
import { toast } from '../common/toasts.ts';
import { messageOf } from '../controller/run-controller.ts';
import { fileListKind } from '../inspector/fields/use-file-choices.ts';

const KIND_LABEL: Record<MissingFile['fileKind'], string> = { model: 'model', image: 'image', latent: 'latent', any: 'file' };

export function MissingFilesBody({ missing, onClose }: { missing: MissingFile[]; onClose(): void }) {
  const controller = useController();
  const client = useClient();
  const store = useEditorStore();
  const doc = useEditor((s) => s.doc);
  const nodeTypes = useEditor((s) => s.nodeTypes);
  const [left, setLeft] = useState(missing);
  const [busy, setBusy] = useState(false);
  const groups = useMemo(() => groupMissingFiles(left, doc), [left, doc]);
  // What the allowed folders hold, per file kind, to find files of the missing ones' names.
  const [listed, setListed] = useState<Partial<Record<FileListKind, ListedFile[]>>>({});
  const kinds = useMemo(() => [...new Set(groups.map((g) => fileListKind(g.fileKind)))], [groups]);
  useEffect(() => {
    let live = true;
    for (const kind of kinds) {
      client.listFiles({ kind }).then(
        (files) => live && setListed((l) => ({ ...l, [kind]: files })),
        () => undefined, // no suggestions; Locate and Show still work
      );
    }
    return () => {
      live = false;
    };
  }, [client, kinds]);

  const settle = (still: MissingFile[]) => {
    setLeft(still);
    if (still.length === 0) {
      toast.success('Every file this graph reads is here now.');
      onClose();
    }
  };

  const locate = async (group: MissingGroup) => {
    const first = group.uses[0];
    const param = nodeTypes[first.nodeType]?.params.find((p) => p.name === first.param);
    const file = await client.chooseInputFile!(fileListKind(group.fileKind), param?.kind === 'file' ? param.extensions : undefined).catch((e: unknown) => {
      toast.error(`Cannot show the file dialog: ${messageOf(e)}`);
      return null;
    });
    if (file) await use(group, file);
  };

  /** Points the group's nodes at `file`, checks a model against the graph's hash, and looks again. */
  const use = async (group: MissingGroup, file: string) => {
    setBusy(true);
    try {
      const still = await controller.docs.relocate(group, file);
      if (group.fileKind === 'model' && group.expectedSha256) {
        const check = describeHashCheck(group, (await client.modelHashes([file]))[file] ?? { error: 'no answer' });
        if (check.ok) toast.success(check.text);
        else toast.warning(check.text);
      }
      settle(still);
    } catch (e) {
      toast.error(`Cannot use ${file} for ${fileNameOf(group.value)}: ${messageOf(e)}`);
    } finally {
      setBusy(false);
    }
  };

  const checkAgain = async () => {
    setBusy(true);
    try {
      settle(await client.checkFiles(store.getState().documentForSave()));
    } catch (e) {
      toast.error(`Cannot check the files: ${messageOf(e)}`);
    } finally {
      setBusy(false);
    }
  };

  const show = (group: MissingGroup) => {
    store.getState().select('nodes', group.uses.map((u) => u.nodeId));
    onClose();
  };

  const nodeLabel = (nodeId: string, nodeType: string) => {
    const node = doc.nodes.find((n) => n.id === nodeId);
    return node?.title || nodeTypes[nodeType]?.title || nodeType;
  };

  return (
    <>
      <p>
        This graph reads {groups.length === 1 ? 'a file that is' : `${groups.length} files that are`} not here. Runs stop at the nodes
        below until {groups.length === 1 ? 'it is' : 'they are'} found.
      </p>
      <ul className="missing-files" data-testid="missing-files">
        {groups.map((g) => (
          <li key={g.key} className="missing-file" data-testid="missing-file" data-value={g.value} data-kind={g.fileKind}>
            <div className="missing-file-head">
              <span className="badge">{KIND_LABEL[g.fileKind]}</span> <span className="mono">{g.value}</span>
            </div>
            <div className="dim small">
              read by {g.uses.map((u) => `${nodeLabel(u.nodeId, u.nodeType)} (${u.nodeId}.${u.param})`).join(', ')}
            </div>
            <div className="dim small missing-file-why">{g.message}</div>
            {g.expectedSha256 && <div className="dim small mono">made with sha256 {g.expectedSha256.slice(0, 16)}…: checked when you locate it</div>}
            {candidatesFor(g, listed[fileListKind(g.fileKind)] ?? []).map((c) => (
              <div key={c.path} className="missing-file-candidate" data-testid="missing-candidate" data-path={c.path}>
                <span className="dim small">Found here:</span> <span className="mono small">{c.path}</span>{' '}
                <button type="button" className="btn btn-small" data-testid="missing-use" disabled={busy} onClick={() => void use(g, c.path)}>
                  Use
                </button>
              </div>
            ))}
            <div className="missing-file-actions">
              {client.chooseInputFile && (
                <button type="button" className="btn" data-testid="missing-locate" disabled={busy} onClick={() => void locate(g)}>
                  {g.fileKind === 'model' ? 'Locate model folder…' : 'Locate file…'}
                </button>
              )}
              <button type="button" className="btn" data-testid="missing-show" onClick={() => show(g)}>
                Show {g.uses.length === 1 ? 'node' : 'nodes'}
              </button>
            </div>
          </li>
        ))}
      </ul>
      {!client.chooseInputFile && (
        <p className="dim small">
          Pick each file in the node's inspector (Show), or copy it into a folder FlowStudio reads from (listed in the reason) and check again.
        </p>
      )}
      <div className="modal-actions">
        <button type="button" className="btn" data-testid="missing-check" disabled={busy} onClick={() => void checkAgain()}>
          Check again
        </button>
        <button type="button" className="btn btn-primary" data-testid="missing-close" autoFocus onClick={onClose}>
          Close
        </button>
      </div>
    </>
  );
}
