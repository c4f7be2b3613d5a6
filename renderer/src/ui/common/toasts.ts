/**
 * Short-lived messages: refused connections (shown next to the cursor), saves, errors. A tiny store of its
 * own so any component or handler can post one without threading callbacks through the tree.
 */
import { create } from 'zustand';

export type ToastKind = 'info' | 'success' | 'error' | 'warning';

export interface Toast {
  id: number;
  kind: ToastKind;
  message: string;
  /** Screen position (client px) to show the toast at, e.g. where a refused connection was dropped. */
  at?: { x: number; y: number };
}

interface ToastState {
  toasts: Toast[];
  push(kind: ToastKind, message: string, at?: { x: number; y: number }, ms?: number): number;
  dismiss(id: number): void;
}

let nextId = 1;

export const useToasts = create<ToastState>((set, get) => ({
  toasts: [],
  push(kind, message, at, ms = kind === 'error' ? 6000 : 3500) {
    const id = nextId++;
    // At most 5 on screen: the oldest goes first.
    set({ toasts: [...get().toasts.slice(-4), { id, kind, message, at }] });
    setTimeout(() => get().dismiss(id), ms);
    return id;
  },
  dismiss(id) {
    set({ toasts: get().toasts.filter((t) => t.id !== id) });
  },
}));

export const toast = {
  info: (m: string, at?: { x: number; y: number }) => useToasts.getState().push('info', m, at),
  success: (m: string, at?: { x: number; y: number }) => useToasts.getState().push('success', m, at),
  warning: (m: string, at?: { x: number; y: number }) => useToasts.getState().push('warning', m, at),
  error: (m: string, at?: { x: number; y: number }) => useToasts.getState().push('error', m, at),
};
