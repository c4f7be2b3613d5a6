/** The left panel: shipped examples, the user's presets and recent graph files; click to open. */
import { useController, useSession } from '../app-context.tsx';
import type { PresetInfo, RecentFile } from '../../engine/app-client.ts';

export function PresetLibrary() {
  const presets = useSession((s) => s.presets);
  const recent = useSession((s) => s.recent);
  const examples = presets.filter((p) => p.source === 'example');
  const mine = presets.filter((p) => p.source === 'user');
  return (
    <aside className="library" data-testid="preset-library" aria-label="Preset library">
      <h2 className="panel-title">Library</h2>
      <Section title="Examples" empty="No examples shipped.">
        {examples.map((p) => (
          <PresetItem key={p.id} preset={p} />
        ))}
      </Section>
      <Section title="My presets" empty="Save a graph as a preset to find it here.">
        {mine.map((p) => (
          <PresetItem key={p.id} preset={p} deletable />
        ))}
      </Section>
      <Section title="Recent files" empty="Graph files you open or save show up here.">
        {recent.map((r) => (
          <RecentItem key={r.path} file={r} />
        ))}
      </Section>
    </aside>
  );
}

function Section({ title, empty, children }: { title: string; empty: string; children: React.ReactNode[] }) {
  return (
    <section className="library-section">
      <h3>{title}</h3>
      {children.length === 0 ? <p className="dim small">{empty}</p> : <ul className="library-list">{children}</ul>}
    </section>
  );
}

function PresetItem({ preset, deletable }: { preset: PresetInfo; deletable?: boolean }) {
  const controller = useController();
  const current = useSession((s) => s.source.kind === 'preset' && s.source.id === preset.id);
  const open = () => controller.docs.guard(() => void controller.docs.openPreset(preset.id), `Open “${preset.name}”`);
  return (
    <li className={`library-item${current ? ' current' : ''}`}>
      <button type="button" className="library-open" data-testid="preset-item" data-preset-id={preset.id} title={preset.description || preset.name} onClick={open}>
        <span className="library-name">{preset.name}</span>
        {preset.description && <span className="library-desc">{preset.description}</span>}
        {preset.tags.length > 0 && (
          <span className="library-tags">
            {preset.tags.slice(0, 4).map((t) => (
              <span key={t} className="tag">
                {t}
              </span>
            ))}
          </span>
        )}
      </button>
      {deletable && (
        <button
          type="button"
          className="library-delete"
          title={`Delete preset “${preset.name}”`}
          aria-label={`Delete preset ${preset.name}`}
          data-testid="preset-delete"
          onClick={() =>
            controller.session.setState({
              dialog: { kind: 'confirm-discard', message: `Delete the preset “${preset.name}”? This cannot be undone.`, then: () => void controller.docs.deletePreset(preset.id) },
            })
          }
        >
          ×
        </button>
      )}
    </li>
  );
}

function RecentItem({ file }: { file: RecentFile }) {
  const controller = useController();
  return (
    <li className="library-item">
      <button
        type="button"
        className="library-open"
        data-testid="recent-item"
        title={file.path}
        onClick={() => controller.docs.guard(() => void controller.docs.openFile(file.path), `Open ${file.name}`)}
      >
        <span className="library-name">{file.name}</span>
        <span className="library-desc mono">{file.path}</span>
      </button>
    </li>
  );
}
