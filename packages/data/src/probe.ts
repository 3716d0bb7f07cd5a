import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_FASHION_MNIST_DIR, FASHION_MNIST_FILES } from './loaders/fashion-mnist.js';

/** Datasets a loader finds without configuration, where it looks, and how to install them. */
export const KNOWN_DATASETS: readonly { name: string; dirs: readonly string[]; files: readonly string[]; install: string }[] = [
  {
    name: 'fashion-mnist',
    dirs: [DEFAULT_FASHION_MNIST_DIR],
    files: Object.values(FASHION_MNIST_FILES),
    install: 'apt-get install dataset-fashion-mnist',
  },
];

export interface DatasetProbe {
  name: string;
  /** The directory holding every file, or null. */
  found: string | null;
  lookedIn: string[];
  /** Files missing from the first directory that exists (a partial copy). */
  missing: string[];
  install: string;
}

/** What `gaze doctor` reports: which known datasets are on this machine. */
export function probeDatasets(known = KNOWN_DATASETS): DatasetProbe[] {
  return known.map(({ name, dirs, files, install }) => {
    const found = dirs.find((d) => files.every((f) => existsSync(join(d, f)))) ?? null;
    const partial = dirs.find((d) => existsSync(d));
    const missing = found || !partial ? [] : files.filter((f) => !existsSync(join(partial, f)));
    return { name, found, lookedIn: [...dirs], missing, install };
  });
}
