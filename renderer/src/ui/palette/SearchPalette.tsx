/**
 * The add-node palette: fuzzy search over title, type, category and description (graph/search.ts).
 * Arrow keys pick, Enter adds the node where the palette was opened, Esc closes. Opened from a dropped
 * connection it offers only compatible types and wires the new node up; opened on an edge it splices.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import type { NodeTypeDescription } from '../../../../electron/engine/graph/describe.ts';
import { searchNodeTypes, type SearchHit } from '../../graph/search.ts';
import { planInsertOnEdge } from '../../graph/insert-on-edge.ts';
import type { EditorStore } from '../../state/store.ts';
import { useController, useEditor, useEditorStore, useSession } from '../app-context.tsx';
import type { PaletteRequest } from '../controller/session.ts';
import { toast } from '../common/toasts.ts';
import { categoryColor, portColor } from '../theme.ts';

const MAX_HITS = 60;
const BOX = { width: 380, height: 420 };

export function SearchPalette() {
  const request = useSession((s) => s.palette);
  if (!request) return null;
  return <PaletteBox request={request} />;
}

function PaletteBox({ request }: { request: PaletteRequest }) {
  const controller = useController();
  const store = useEditorStore();
  const nodeTypes = useEditor((s) => s.nodeTypes);
  const [query, setQuery] = useState('');
  const [active, setActive] = useState(0);
  const listRef = useRef<HTMLUListElement>(null);

  const candidates = useMemo(() => compatibleTypes(Object.values(nodeTypes), request, store), [nodeTypes, request, store]);
  const hits = useMemo(() => searchNodeTypes(candidates, query, MAX_HITS), [candidates, query]);
  useEffect(() => setActive(0), [query]);
  useEffect(() => {
    listRef.current?.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: 'nearest' });
  }, [active]);

  const close = () => controller.session.setState({ palette: null });
  const choose = (hit: SearchHit | undefined) => {
    if (!hit) return;
    close();
    addFromPalette(store, request, hit.type);
  };

  const left = Math.max(8, Math.min(request.screen.x, window.innerWidth - BOX.width - 8));
  const top = Math.max(8, Math.min(request.screen.y, window.innerHeight - BOX.height - 8));
  return (
    <div className="palette-backdrop" onPointerDown={(e) => e.target === e.currentTarget && close()}>
      <div className="palette" style={{ left, top }} role="dialog" aria-label="Add node" data-testid="palette">
        <input
          className="palette-input"
          data-testid="palette-input"
          autoFocus
          placeholder={request.connectFrom ? `Add a node that takes ${request.connectFrom.portType}…` : request.edgeId ? 'Insert a node into this connection…' : 'Search nodes…'}
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'ArrowDown') {
              e.preventDefault();
              setActive((a) => Math.min(a + 1, hits.length - 1));
            } else if (e.key === 'ArrowUp') {
              e.preventDefault();
              setActive((a) => Math.max(a - 1, 0));
            } else if (e.key === 'Enter') {
              e.preventDefault();
              choose(hits[active]);
            } else if (e.key === 'Escape' || (e.key === 'Tab' && !query)) {
              e.preventDefault();
              close();
            }
            e.stopPropagation();
          }}
        />
        <ul className="palette-list" ref={listRef} role="listbox">
          {hits.length === 0 && <li className="palette-empty">No node matches “{query}”</li>}
          {hits.map((hit, i) => (
            <li
              key={hit.type.type}
              role="option"
              aria-selected={i === active}
              className={`palette-item${i === active ? ' active' : ''}`}
              data-testid="palette-item"
              data-type={hit.type.type}
              onPointerEnter={() => setActive(i)}
              onClick={() => choose(hit)}
            >
              <div className="palette-item-main">
                <span className="palette-title">
                  <Highlighted text={hit.type.title} indices={hit.titleMatches} />
                </span>
                <span className="palette-category" style={{ '--cat': categoryColor(hit.type.category) } as React.CSSProperties}>
                  {hit.type.category}
                </span>
              </div>
              <div className="palette-desc">{hit.type.description}</div>
              <PortDots type={hit.type} />
            </li>
          ))}
        </ul>
        <div className="palette-footer">
          <kbd>↑</kbd>
          <kbd>↓</kbd> choose · <kbd>Enter</kbd> add · <kbd>Esc</kbd> close
        </div>
      </div>
    </div>
  );
}

function Highlighted({ text, indices }: { text: string; indices: number[] }) {
  if (!indices.length) return <>{text}</>;
  const marks = new Set(indices);
  return (
    <>
      {Array.from(text, (ch, i) =>
        marks.has(i) ? (
          <mark key={i}>{ch}</mark>
        ) : (
          <span key={i}>{ch}</span>
        ),
      )}
    </>
  );
}

function PortDots({ type }: { type: NodeTypeDescription }) {
  return (
    <div className="palette-ports">
      {type.inputs.map((p) => (
        <span key={`i-${p.name}`} className="port-dot" style={{ background: portColor(p.type) }} title={`in: ${p.name} (${p.type})`} />
      ))}
      {type.inputs.length > 0 && type.outputs.length > 0 && <span className="port-arrow">→</span>}
      {type.outputs.map((p) => (
        <span key={`o-${p.name}`} className="port-dot" style={{ background: portColor(p.type) }} title={`out: ${p.name} (${p.type})`} />
      ))}
    </div>
  );
}

/** Types that can take part in what the palette was opened for. */
function compatibleTypes(types: NodeTypeDescription[], request: PaletteRequest, store: EditorStore): NodeTypeDescription[] {
  if (request.connectFrom) {
    const { side, portType } = request.connectFrom;
    return types.filter((t) => (side === 'source' ? t.inputs : t.outputs).some((p) => p.type === portType));
  }
  if (request.edgeId) {
    const s = store.getState();
    return types.filter((t) => planInsertOnEdge(s.doc, s.nodeTypes, request.edgeId!, t.type).ok);
  }
  return types;
}

function addFromPalette(store: EditorStore, request: PaletteRequest, type: NodeTypeDescription): void {
  const s = store.getState();
  if (request.edgeId) {
    const r = s.insertNodeOnEdge(request.edgeId, type.type, request.flow);
    if (!r.ok) toast.warning(r.reason, request.screen);
    return;
  }
  const from = request.connectFrom;
  s.beginTransaction('palette-add', `Add ${type.title}`);
  try {
    // A node fed from an output goes to the right of the drop point; one feeding an input to its left.
    const position = from?.side === 'target' ? { x: request.flow.x - 240, y: request.flow.y - 20 } : from ? { x: request.flow.x, y: request.flow.y - 20 } : request.flow;
    const added = store.getState().addNode(type.type, position);
    if (!added.ok) {
      toast.warning(added.reason, request.screen);
      return;
    }
    if (from) {
      const port = (from.side === 'source' ? type.inputs : type.outputs).find((p) => p.type === from.portType);
      if (port) {
        const r =
          from.side === 'source'
            ? store.getState().connect(from.nodeId, from.port, added.nodeId, port.name)
            : store.getState().connect(added.nodeId, port.name, from.nodeId, from.port);
        if (!r.ok) toast.warning(r.reason, request.screen);
      }
    }
  } finally {
    store.getState().endTransaction();
  }
}
