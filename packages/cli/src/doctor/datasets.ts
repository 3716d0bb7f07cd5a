import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Datasets Gaze can find on this machine without configuration. (Moves to @gaze/data's loaders
 * once that package exists, so the loaders and this report share one list.)
 */
export const KNOWN_DATASETS = [
  {
    name: 'fashion-mnist',
    dirs: ['/usr/share/datasets/fashion-mnist'],
    files: ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'],
    install: 'apt-get install dataset-fashion-mnist',
  },
] as const;

export interface DatasetProbe {
  name: string;
  /** The directory holding every file, or null. */
  found: string | null;
  lookedIn: string[];
  /** Files missing from the first directory that exists (a partial copy). */
  missing: string[];
  install: string;
}

export function probeDatasets(known: readonly { name: string; dirs: readonly string[]; files: readonly string[]; install: string }[] = KNOWN_DATASETS): DatasetProbe[] {
  return known.map(({ name, dirs, files, install }) => {
    const found = dirs.find((d) => files.every((f) => existsSync(join(d, f)))) ?? null;
    const partial = dirs.find((d) => existsSync(d));
    const missing = found || !partial ? [] : files.filter((f) => !existsSync(join(partial, f)));
    return { name, found, lookedIn: [...dirs], missing, install };
  });
}
