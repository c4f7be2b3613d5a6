/**
 * The two things every component needs: the engine client (AppAPI over whichever transport) and the editor
 * store. Passed by context, not imported as singletons, so a test or a second window can bring its own.
 */
import { createContext, useContext, type ReactNode } from 'react';
import { useStore } from 'zustand';
import type { AppClient } from '../engine/app-client.ts';
import type { EditorState, EditorStore } from '../state/store.ts';
import type { AppController } from './controller/app-controller.ts';
import type { SessionState } from './controller/session.ts';

interface AppContextValue {
  client: AppClient;
  store: EditorStore;
  controller: AppController;
}

const AppContext = createContext<AppContextValue | null>(null);

export function AppProvider({ value, children }: { value: AppContextValue; children: ReactNode }) {
  return <AppContext.Provider value={value}>{children}</AppContext.Provider>;
}

function useAppContext(): AppContextValue {
  const ctx = useContext(AppContext);
  if (!ctx) throw new Error('FlowStudio UI: component rendered outside <AppProvider>');
  return ctx;
}

/** Subscribes to a slice of the editor state (re-renders only when the slice changes by ===). */
export function useEditor<T>(selector: (state: EditorState) => T): T {
  return useStore(useAppContext().store, selector);
}

export function useEditorStore(): EditorStore {
  return useAppContext().store;
}

export function useClient(): AppClient {
  return useAppContext().client;
}

export function useController(): AppController {
  return useAppContext().controller;
}

/** Subscribes to a slice of the UI session (document source, output images, dialogs, ...). */
export function useSession<T>(selector: (state: SessionState) => T): T {
  return useStore(useAppContext().controller.session, selector);
}
