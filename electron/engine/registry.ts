/**
 * The node registry: every node type the engine can run, by type id. Built from nodes/index.ts for the
 * app; tests build their own with fake nodes.
 */
import type { AnyNodeDefinition } from '../../nodes/core/types.ts';

export class NodeRegistry {
  private readonly defs = new Map<string, AnyNodeDefinition>();

  constructor(defs: Iterable<AnyNodeDefinition> = []) {
    for (const d of defs) this.register(d);
  }

  register(def: AnyNodeDefinition): void {
    if (this.defs.has(def.type)) throw new Error(`Node type "${def.type}" is registered twice`);
    this.defs.set(def.type, def);
  }

  get(type: string): AnyNodeDefinition | undefined {
    return this.defs.get(type);
  }

  has(type: string): boolean {
    return this.defs.has(type);
  }

  list(): AnyNodeDefinition[] {
    return [...this.defs.values()].sort((a, b) => a.category.localeCompare(b.category) || a.type.localeCompare(b.type));
  }
}
