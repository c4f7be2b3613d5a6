/**
 * React binding: one editor store per window (`editorStore`), read with `useEditor(selector)`.
 * Selectors must return stable values: use the factories in ./selectors.ts (one instance per component
 * tree, e.g. module level) for derived arrays, or pick plain fields (`s => s.doc.nodes`).
 */
import { useStore } from 'zustand';
import { createEditorStore, type EditorState, type EditorStore } from './store.ts';

export const editorStore: EditorStore = createEditorStore();

export function useEditor<T>(selector: (state: EditorState) => T, store: EditorStore = editorStore): T {
  return useStore(store, selector);
}
