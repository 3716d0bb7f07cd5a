import { canonicalPaths, contains, modulePathOf, withAncestors } from './module-paths.js';
import type { OnnxNode } from '../proto/read-model.js';

/** One value the graph computed in the dry run at load. */
export interface ValueRecord {
  name: string;
  node: OnnxNode;
  /** Logical (ONNX) shape at the load-time batch. */
  shape: number[];
  /** Computed by the network (a tensor), not shape arithmetic. */
  tensor: boolean;
}

export interface ModuleRecord {
  /** PyTorch module path (`layer4`, `features.28`); top-level nodes belong to no module. */
  path: string;
  /** The module's output: the last tensor its scope computes (what a forward hook on it sees). */
  output: ValueRecord;
  /** Float initializer elements its nodes read (a shared weight once). */
  parameters: number;
}

/**
 * The model's modules and values as a dry run at load saw them: what taps resolve against and
 * what `gaze model inspect` prints.
 */
export class ModelMap {
  readonly values = new Map<string, ValueRecord>();
  readonly modules = new Map<string, ModuleRecord>();
  /** Runtime values in the order they were computed. */
  readonly order: ValueRecord[] = [];

  constructor(
    records: ValueRecord[],
    /** Float initializer elements a module's nodes read (each array once). */
    parametersOf: (nodes: Iterable<OnnxNode>) => number,
  ) {
    for (const r of records) {
      this.values.set(r.name, r);
      this.order.push(r);
    }
    const scopes = new Map<number, string>();
    const raw = new Set<string>();
    for (const r of records) {
      const scope = modulePathOf(r.node.name);
      if (scope === undefined) continue;
      scopes.set(r.node.index, scope);
      raw.add(scope);
    }
    const canonical = canonicalPaths(raw);
    const nodesByModule = new Map<string, Set<OnnxNode>>();
    for (const path of withAncestors([...raw].map((p) => canonical.get(p)!))) nodesByModule.set(path, new Set());
    for (const r of records) {
      const scope = scopes.get(r.node.index);
      if (scope === undefined) continue;
      const path = canonical.get(scope)!;
      for (const [module, nodes] of nodesByModule) {
        if (!contains(module, path)) continue;
        nodes.add(r.node);
        if (r.tensor) {
          const existing = this.modules.get(module);
          if (!existing || existing.output.node.index <= r.node.index) this.modules.set(module, { path: module, output: r, parameters: 0 });
        }
      }
    }
    for (const [path, nodes] of nodesByModule) {
      const module = this.modules.get(path);
      if (!module) continue;
      module.parameters = parametersOf(nodes);
    }
  }

  /** Module paths in the order their outputs are computed; a module whose output is its last child's is listed after that child. */
  modulePaths(): string[] {
    return [...this.modules.values()].sort((a, b) => a.output.node.index - b.output.node.index || b.path.length - a.path.length).map((m) => m.path);
  }

  /** A tap by module path or ONNX value name: the value it reads, or undefined. */
  resolve(tap: string): ValueRecord | undefined {
    const byModule = this.modules.get(tap);
    if (byModule) return byModule.output;
    const value = this.values.get(tap);
    return value?.tensor ? value : undefined;
  }
}
