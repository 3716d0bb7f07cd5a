import { GazeError, NotInstalledError, importOptional } from '@gaze/engine';
import { headFactory, headTypes } from '@gaze/models';
import { composeConfig } from './config/compose.js';
import { loadExperimentConfig, type LoadedConfig } from './config/load-config.js';
import { registerComponentSource } from './components.js';

// Heads register in @gaze/models' registry when their package is imported; the runner reads it
// when it validates a config.
registerComponentSource('heads', () =>
  headTypes().map((type) => {
    const factory = headFactory(type);
    return { type, describe: factory.describe, configSchema: factory.configSchema };
  }),
);

/** The npm package of a head type: heads live in packages/heads/<type> as @gaze/head-<type>. */
export const headPackage = (type: string) => `@gaze/head-${type}`;

/**
 * Imports the package of every head type named, so each registers itself (the runner depends on
 * no head: a new head is a new package). A package that is not there is left to validation,
 * which reports the unknown type where the config names it; one that fails to load is an error.
 */
export async function importHeads(types: Iterable<string>): Promise<void> {
  for (const type of new Set(types)) {
    if (headTypes().includes(type) || !/^[a-z0-9][a-z0-9-]*$/.test(type)) continue;
    try {
      await importOptional(headPackage(type));
    } catch (error) {
      if (!(error instanceof NotInstalledError)) throw new GazeError(`head package ${headPackage(type)} failed to load: ${(error as Error).message}`, { hint: `fix packages/heads/${type}, then \`npm test -w ${headPackage(type)}\``, cause: error });
    }
  }
}

/** The head types a composed config names (in `heads:` and in sweep or ablation overrides of it). */
function namedHeadTypes(value: Record<string, unknown>): string[] {
  const types: string[] = [];
  const visit = (v: unknown, inHeads: boolean) => {
    if (Array.isArray(v)) for (const x of v) visit(x, inHeads);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (inHeads && k === 'type' && typeof x === 'string') types.push(x);
        visit(x, inHeads || k === 'heads');
      }
    }
  };
  visit(value, false);
  return types;
}

/** loadExperimentConfig, after importing the head packages the config names. */
export async function loadExperimentConfigWithHeads(file: string, options: { sets?: readonly string[] } = {}): Promise<LoadedConfig> {
  const composed = composeConfig(file, options.sets ?? []);
  await importHeads(namedHeadTypes(composed.value));
  return loadExperimentConfig(file, options);
}
