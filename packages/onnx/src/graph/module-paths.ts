/**
 * PyTorch module paths from the node names torch.onnx.export writes (torch >= 1.13): a node of
 * `model.layer4[1].conv2` is `/layer4/layer4.1/conv2/Conv`: one segment per module level, where
 * a child of a container repeats the container's name (`layer4.1` under `layer4`), and the last
 * segment is the op. A module called twice in one parent gets `_1`, `_2`... on its second and later
 * calls (`relu` then `relu_1` in a ResNet block); those are the same module.
 */

/** The module path of a node (`layer4.1.conv2`), '' for nodes at the top level, undefined for names not in torch's scoped form. */
export function modulePathOf(nodeName: string): string | undefined {
  if (!nodeName.startsWith('/')) return undefined;
  const segments = nodeName.split('/').slice(1, -1);
  let path = '';
  let previous = '';
  for (const segment of segments) {
    if (previous && segment.startsWith(previous + '.')) path += segment.slice(previous.length);
    else path = path ? `${path}.${segment}` : segment;
    previous = segment;
  }
  return path;
}

/**
 * Maps each scope path to its canonical module path: a level `x_N` becomes `x` when its parent
 * also has a scope `x` (a second call of the same module), so `layer4.1.relu_1` is `layer4.1.relu`.
 */
export function canonicalPaths(paths: Iterable<string>): Map<string, string> {
  const all = new Set(paths);
  const out = new Map<string, string>();
  for (const path of all) {
    const parts = path === '' ? [] : path.split('.');
    const canonical: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const match = /^(.*)_(\d+)$/.exec(parts[i]);
      const prefix = parts.slice(0, i);
      if (match && all.has([...prefix, match[1]].join('.'))) canonical.push(match[1]);
      else canonical.push(parts[i]);
    }
    out.set(path, canonical.join('.'));
  }
  return out;
}

/** Whether `module` is `path` or one of its ancestors (`layer4` contains `layer4.1.conv2`). */
export function contains(module: string, path: string): boolean {
  return path === module || path.startsWith(module + '.');
}

/** Every module path and its ancestors, in first-seen order. */
export function withAncestors(paths: Iterable<string>): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    const parts = path.split('.');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('.');
      if (p && !seen.has(p)) {
        seen.add(p);
        out.push(p);
      }
    }
  }
  return out;
}
