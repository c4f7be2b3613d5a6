/** The bottom line: engine connection, what is running, graph-level problems, counts. */
import { useEditor, useSession } from '../app-context.tsx';
import { describeMemory } from '../common/format.ts';

export function StatusBar() {
  const connection = useSession((s) => s.connection);
  const active = useEditor((s) => s.run.active);
  const issues = useEditor((s) => s.run.graphIssues);
  const edgeIssues = useEditor((s) => Object.keys(s.run.edgeIssues).length);
  const invalidNodes = useEditor((s) => Object.values(s.run.nodes).filter((n) => n.source === 'validation').length);
  const counts = useEditor((s) => `${s.doc.nodes.length} nodes · ${s.doc.edges.length} connections`);
  const selected = useEditor((s) => s.selection.nodes.length);
  const problems = issues.length + edgeIssues + invalidNodes;
  const memory = useSession((s) => s.memory);
  const memoryLine = memory ? describeMemory(memory) : undefined;
  return (
    <footer className="statusbar" data-testid="statusbar">
      <span className={`conn conn-${connection}`} data-testid="connection" data-state={connection} title="Engine event stream">
        <span className="conn-dot" /> {connection === 'open' ? 'engine connected' : connection === 'connecting' ? 'connecting to the engine…' : 'engine disconnected, reconnecting…'}
      </span>
      {active && <span data-testid="status-running">running {active.label ?? 'graph'}…</span>}
      {problems > 0 && (
        <span className="status-problems" data-testid="status-problems" title={issues.join('\n')}>
          ⚠ {problems} problem{problems === 1 ? '' : 's'}
          {issues.length > 0 ? `: ${issues[0]}` : ''}
        </span>
      )}
      <span className="tb-spacer" />
      {memoryLine && (
        <span data-testid="status-memory" title={memoryLine.title}>
          {memoryLine.text}
        </span>
      )}
      {selected > 0 && <span>{selected} selected</span>}
      <span>{counts}</span>
    </footer>
  );
}
