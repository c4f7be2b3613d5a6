/** The editor's state layer: store, selectors, React Flow bridge, run state. */
export * from './store.ts';
export * from './selectors.ts';
export * from './flow-changes.ts';
export * from './run-state.ts';
export type { History, HistoryEntry } from './history.ts';
export { editorStore, useEditor } from './use-editor.ts';
