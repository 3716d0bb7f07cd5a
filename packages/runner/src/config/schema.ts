import { BACKEND_REQUESTS, SAFE_NAME, SAFE_NAME_RULE } from '@gaze/engine';
import { TrainConfig } from '@gaze/models';
import { z } from 'zod';
import { isForbiddenKey } from './safe-keys.js';

/** `experiment:` — what the run is called, its seed and backend, and where it writes. */
export const ExperimentSection = z.strictObject({
  name: z.string().regex(SAFE_NAME, SAFE_NAME_RULE),
  description: z.string().optional(),
  seed: z.int().min(0).default(0),
  backend: z.enum(BACKEND_REQUESTS).default('auto'),
  /** Output root; runs go to `<output>/<name>/<run-id>/`. Relative to the working directory. */
  output: z.string().min(1).default('runs'),
});
export type ExperimentSection = z.infer<typeof ExperimentSection>;

/** A component entry in a list section: its `type:`, an optional display `name:`, and its own keys. */
export const ComponentEntry = z.looseObject({ type: z.string().min(1), name: z.string().min(1).optional() });
export type ComponentEntry = z.infer<typeof ComponentEntry>;

/** A head entry: its name (default: its type) names its checkpoint folder, so it follows the folder-name rule. */
export const HeadEntry = z.looseObject({ type: z.string().regex(SAFE_NAME, SAFE_NAME_RULE), name: z.string().regex(SAFE_NAME, SAFE_NAME_RULE).optional() });

/** `sweep:` — a grid over key paths (each a list of values) times a list of seeds; one run per point. */
/** A dotted key path (train.lr) whose segments are none of the forbidden object internals. */
const KeyPath = z
  .string()
  .regex(/^[A-Za-z_][\w-]*(\.[\w-]+)*$/, 'keys are dotted paths like train.lr')
  .refine((p) => !p.split('.').some(isForbiddenKey), { message: 'a key path may not name __proto__, constructor or prototype (object internals)' });

/** The most runs a sweep (grid points x seeds x ablation variants) may make unless `sweep.maxRuns` says otherwise. */
export const MAX_RUNS = 10_000;

export const SweepSection = z.strictObject({
  grid: z.record(KeyPath, z.array(z.unknown()).min(1)).default({}),
  seeds: z.array(z.int().min(0)).min(1).optional(),
  /** A guard against a grid of millions of points: more runs than this is a config error. */
  maxRuns: z.int().min(1).default(MAX_RUNS),
});
export type SweepSection = z.infer<typeof SweepSection>;

/** `ablation:` — named variants of the experiment, each a set of key-path overrides and a run of its own. */
export const AblationVariant = z.strictObject({
  name: z.string().regex(SAFE_NAME, SAFE_NAME_RULE),
  set: z.record(KeyPath, z.unknown()),
});
export type AblationVariant = z.infer<typeof AblationVariant>;

/** `gallery:` — which images the report's explanation gallery shows, and for which class. */
export const GallerySection = z.strictObject({
  /** How many images (the first of the split, in order); 0 turns the gallery off. */
  images: z.int().min(0).max(64).default(8),
  split: z.enum(['train', 'val', 'test']).default('test'),
  /** Explain the classifier's prediction (as TAME's and most papers' figures do) or the true label. */
  target: z.enum(['predicted', 'label']).default('predicted'),
});
export type GallerySection = z.infer<typeof GallerySection>;

/** What `evaluationSet.saveMaps` may say (`gaze run --save-maps`). */
export const SAVE_MAPS_MODES = ['none', 'npy', 'png', 'both'] as const;
export type SaveMapsMode = (typeof SAVE_MAPS_MODES)[number];

/** `evaluationSet:` — which images the `evaluation:` evaluators score every explainer on. */
export const EvaluationSetSection = z.strictObject({
  split: z.enum(['train', 'val', 'test']).default('test'),
  /** The first this many images of the split, in order (the same images for every method). */
  images: z.int().min(1).default(500),
  /** Images per batch of maps; evaluators batch their own forward passes further. */
  batchSize: z.int().min(1).default(32),
  /** Bootstrap resamples for the 95% CIs of mean metrics (0: no CIs). */
  bootstrap: z.int().min(0).default(1000),
  /** Write each method's maps under maps/<method>/: none, npy (raw maps.npy and index.csv), png (overlays), or both. */
  saveMaps: z.enum(SAVE_MAPS_MODES).default('none'),
});
export type EvaluationSetSection = z.infer<typeof EvaluationSetSection>;

/** `unitAblation:` — zero each unit (channel) of a classifier tap in turn and measure the accuracy drop, overall and per class. */
export const UnitAblationSection = z.strictObject({
  /** The tap whose channels are ablated, e.g. block3. */
  tap: z.string().min(1),
  /** Channel indices to ablate (default: every channel). */
  units: z.array(z.int().min(0)).min(1).optional(),
  split: z.enum(['train', 'val', 'test']).default('test'),
  /** The first this many images of the split (default: all of it). */
  images: z.int().min(1).optional(),
  batchSize: z.int().min(1).default(32),
});
export type UnitAblationSection = z.infer<typeof UnitAblationSection>;

/**
 * With `evaluationSet.saveMaps` on, every method (explainer or head) names its folder maps/<name>/:
 * the name must be a safe folder name, and an explainer and a head may not share one. (Heads'
 * names are checked by HeadEntry, duplicates within a section by the loader.)
 */
function checkMapFolders(config: { evaluationSet: { saveMaps: SaveMapsMode }; explainers: ComponentEntry[]; heads: ComponentEntry[] }, ctx: z.RefinementCtx): void {
  if (config.evaluationSet.saveMaps === 'none') return;
  const owners = new Map<string, string>();
  for (const section of ['explainers', 'heads'] as const) {
    config[section].forEach((entry, i) => {
      const name = entry.name ?? entry.type;
      const path = [section, i, entry.name !== undefined ? 'name' : 'type'];
      const owner = owners.get(name);
      if (!SAFE_NAME.test(name)) {
        ctx.addIssue({ code: 'custom', path, message: `evaluationSet.saveMaps writes maps/<method>/, and '${name}' cannot name a folder: ${SAFE_NAME_RULE}` });
      } else if (owner !== undefined && !owner.startsWith(section)) {
        ctx.addIssue({ code: 'custom', path, message: `${owner} is also called '${name}': evaluationSet.saveMaps needs a folder maps/<method>/ per method; rename one` });
      } else {
        owners.set(name, `${section}.${i}`);
      }
    });
  }
}

/**
 * The whole experiment file after `extends:`. `dataset`/`backbone` and list entries are checked
 * here for their `type:` only; their own keys are checked against the chosen component's schema.
 */
export const ExperimentConfigShape = z.strictObject({
  experiment: ExperimentSection,
  dataset: z.looseObject({ type: z.string().min(1) }),
  backbone: z.looseObject({ type: z.string().min(1) }),
  /** Classifier training; leave it out to use the backbone as it is (e.g. a converted pretrained model). */
  train: TrainConfig.optional(),
  heads: z.array(HeadEntry).default([]),
  explainers: z.array(ComponentEntry).default([]),
  evaluation: z.array(ComponentEntry).default([]),
  evaluationSet: EvaluationSetSection.default({ split: 'test', images: 500, batchSize: 32, bootstrap: 1000, saveMaps: 'none' }),
  gallery: GallerySection.default({ images: 8, split: 'test', target: 'predicted' }),
  ablation: z.array(AblationVariant).default([]),
  unitAblation: UnitAblationSection.optional(),
  sweep: SweepSection.optional(),
}).superRefine(checkMapFolders);

export type ExperimentConfig = Omit<z.infer<typeof ExperimentConfigShape>, 'dataset' | 'backbone'> & {
  dataset: { type: string } & Record<string, unknown>;
  backbone: { type: string } & Record<string, unknown>;
};

export const SECTION_NAMES = Object.keys(ExperimentConfigShape.shape);
