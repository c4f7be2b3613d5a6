/**
 * What a file param's Browse button lists: for models, the ones the engine knows (embedded) and the model
 * folders / .onnx files under the backend's allowed folders; for images, latents and other read params,
 * paths the runs reported, then the files of the param's kind and extensions there (newest first).
 * Write params list nothing: their value is a new file name.
 */
import { useCallback } from 'react';
import type { FileListKind } from '../../../engine/app-client.ts';
import { useClient, useController, useEditorStore } from '../../app-context.tsx';
import { listedChoice, mergeChoices, newestFirst, type FileChoice } from './file-choices.ts';
import { baseName } from '../../common/format.ts';

const KINDS: readonly string[] = ['image', 'latent', 'model', 'any'] satisfies FileListKind[];

/** The listing kind for a param's fileKind (one the backend does not list by is 'any'). */
export function fileListKind(fileKind: string | undefined): FileListKind {
  return (KINDS.includes(fileKind ?? '') ? fileKind : 'any') as FileListKind;
}

export function useFileChoices(fileKind: string | undefined, mode: string | undefined, extensions: string[] | undefined): () => Promise<FileChoice[]> {
  const controller = useController();
  const store = useEditorStore();
  const client = useClient();
  return useCallback(async () => {
    if (mode === 'write') return [];
    const kind = fileListKind(fileKind);
    const listing = client.listFiles({ kind, extensions });
    if (kind === 'model') {
      if (!controller.session.getState().models) await controller.docs.loadModels();
      const known = (controller.session.getState().models ?? []).map((m) => ({ value: m.ref, label: m.name, detail: m.description }));
      return mergeChoices(known, (await listing).map(listedChoice));
    }
    const written = new Set<string>();
    for (const image of controller.session.getState().images) written.add(image.path);
    for (const ports of Object.values(store.getState().run.outputs)) {
      for (const v of Object.values(ports)) if (v.kind === 'scalar' && typeof v.value === 'string') written.add(v.value);
    }
    const fromRuns = [...written]
      .filter((p) => !extensions || extensions.some((ext) => p.toLowerCase().endsWith(ext.toLowerCase())))
      .map((p) => ({ value: p, label: baseName(p), detail: 'written by a run' }));
    return mergeChoices(fromRuns, newestFirst(await listing).map(listedChoice));
  }, [controller, store, client, fileKind, mode, extensions]);
}
