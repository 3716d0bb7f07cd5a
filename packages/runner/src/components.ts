// Backbone types beyond @gaze/models' own: the ONNX importer registers `onnx` when imported.
import '@gaze/onnx';
import { explainerFactory, explainerTypes } from '@gaze/explainers';
import { evaluatorFactory, evaluatorTypes } from '@gaze/metrics';
import type { z } from 'zod';

/** What the runner needs to know of a component type to validate a config entry naming it. */
export interface ComponentType {
  type: string;
  describe: string;
  /** The entry's own keys (without `type` and `name`). */
  configSchema: z.ZodType;
}

/** The list sections whose entries name a component by `type:`. */
export type ComponentSection = 'heads' | 'explainers' | 'evaluation';

const NOUNS: Record<ComponentSection, string> = { heads: 'head', explainers: 'explainer', evaluation: 'evaluator' };
const sources = new Map<ComponentSection, () => ComponentType[]>();

/**
 * Lets a package that owns a registry (explainers, metrics, heads) tell the runner which types
 * exist; the runner asks at validation time, so types registered later are seen.
 */
export function registerComponentSource(section: ComponentSection, list: () => ComponentType[]): void {
  sources.set(section, list);
}

export function componentTypes(section: ComponentSection): ComponentType[] {
  return sources.get(section)?.() ?? [];
}

export function componentNoun(section: ComponentSection): string {
  return NOUNS[section];
}

// The explainers package owns its registry; the runner reads it when it validates a config.
registerComponentSource('explainers', () =>
  explainerTypes().map((type) => {
    const factory = explainerFactory(type);
    return { type, describe: factory.describe, configSchema: factory.configSchema };
  }),
);
registerComponentSource('evaluation', () =>
  evaluatorTypes().map((type) => {
    const factory = evaluatorFactory(type);
    return { type, describe: factory.describe, configSchema: factory.configSchema };
  }),
);
