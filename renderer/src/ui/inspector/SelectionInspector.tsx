/** The inspector for several selected nodes (arrange, group) and for a selected group frame. */
import { useController, useEditor, useEditorStore } from '../app-context.tsx';
import { CommitInput } from '../common/CommitInput.tsx';
import { GROUP_COLORS } from '../theme.ts';
import { AlignButtons } from '../toolbar/AlignButtons.tsx';

export function MultiInspector({ count }: { count: number }) {
  const controller = useController();
  return (
    <aside className="inspector" data-testid="inspector">
      <h2 className="panel-title">{count} nodes selected</h2>
      <section className="inspector-section">
        <h3>Arrange</h3>
        <AlignButtons />
      </section>
      <div className="inspector-actions">
        <button type="button" className="btn" data-testid="inspector-group" onClick={() => controller.groupSelection()}>
          ▭ Group
        </button>
        <button type="button" className="btn" onClick={() => controller.duplicate()}>
          Duplicate
        </button>
        <button type="button" className="btn btn-danger" onClick={() => controller.deleteSelection()}>
          Delete
        </button>
      </div>
    </aside>
  );
}

export function GroupInspector({ groupId }: { groupId: string }) {
  const store = useEditorStore();
  const group = useEditor((s) => s.doc.groups.find((g) => g.id === groupId));
  if (!group) return null;
  return (
    <aside className="inspector" data-testid="inspector">
      <h2 className="panel-title">Group</h2>
      <div className="field">
        <label className="field-label">Title</label>
        <CommitInput
          className="text-input"
          testId="inspector-group-title"
          label="Group title"
          value={group.title}
          onCommit={(title) => store.getState().updateGroup(group.id, { title })}
        />
      </div>
      <div className="field">
        <label className="field-label">Colour</label>
        <div className="swatches">
          {GROUP_COLORS.map((c) => (
            <button
              type="button"
              key={c}
              className={`swatch${group.color === c ? ' active' : ''}`}
              style={{ background: c }}
              title={c}
              onClick={() => store.getState().updateGroup(group.id, { color: c })}
            />
          ))}
        </div>
      </div>
      <div className="inspector-actions">
        <button type="button" className="btn btn-danger" onClick={() => store.getState().removeGroup(group.id)}>
          Remove frame (keep nodes)
        </button>
      </div>
    </aside>
  );
}
