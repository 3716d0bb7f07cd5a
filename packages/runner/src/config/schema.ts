import { BACKEND_REQUESTS } from '@gaze/engine';
import { TrainConfig } from '@gaze/models';
import { z } from 'zod';

/** `experiment:` — what the run is called, its seed and backend, and where it writes. */
export const ExperimentSection = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-" (it names a folder)'),
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

/** `sweep:` — a grid over key paths (each a list of values) times a list of seeds; one run per point. */
export const SweepSection = z.strictObject({
  grid: z.record(z.string().regex(/^[A-Za-z_][\w-]*(\.[\w-]+)*$/, 'keys are dotted paths like train.lr'), z.array(z.unknown()).min(1)).default({}),
  seeds: z.array(z.int().min(0)).min(1).optional(),
});
export type SweepSection = z.infer<typeof SweepSection>;

/** `ablation:` — named variants of the experiment, each a set of key-path overrides and a run of its own. */
export const AblationVariant = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-"'),
  set: z.record(z.string(), z.unknown()),
});
export type AblationVariant = z.infer<typeof AblationVariant>;

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
  heads: z.array(ComponentEntry).default([]),
  explainers: z.array(ComponentEntry).default([]),
  evaluation: z.array(ComponentEntry).default([]),
  ablation: z.array(AblationVariant).default([]),
  sweep: SweepSection.optional(),
});

export type ExperimentConfig = Omit<z.infer<typeof ExperimentConfigShape>, 'dataset' | 'backbone'> & {
  dataset: { type: string } & Record<string, unknown>;
  backbone: { type: string } & Record<string, unknown>;
};

export const SECTION_NAMES = Object.keys(ExperimentConfigShape.shape);
