/**
 * The vocabulary of the shapes dataset. A class is a conjunction (shape, colour) taken from a
 * grid of class shapes x class colours, so neither the shape nor the colour alone tells the
 * class; distractors use only pairs that are not classes.
 */

export const SHAPES = ['circle', 'square', 'triangle', 'star', 'cross', 'diamond', 'hexagon', 'ring'] as const;
export type ShapeName = (typeof SHAPES)[number];

/** Saturated, well-separated hues; the background and clutter are kept desaturated. */
export const COLOURS: readonly { name: string; rgb: readonly [number, number, number] }[] = [
  { name: 'red', rgb: [0.86, 0.12, 0.12] },
  { name: 'blue', rgb: [0.13, 0.27, 0.9] },
  { name: 'green', rgb: [0.12, 0.7, 0.2] },
  { name: 'yellow', rgb: [0.93, 0.85, 0.1] },
  { name: 'magenta', rgb: [0.85, 0.15, 0.8] },
  { name: 'cyan', rgb: [0.1, 0.8, 0.85] },
  { name: 'orange', rgb: [0.98, 0.55, 0.05] },
  { name: 'purple', rgb: [0.5, 0.2, 0.75] },
];

export const TEXTURES = ['solid', 'striped', 'dotted'] as const;

/** Object radius as a fraction of the image side. */
export const SIZES: readonly { name: string; radius: number }[] = [
  { name: 'small', radius: 0.12 },
  { name: 'medium', radius: 0.17 },
  { name: 'large', radius: 0.23 },
];

export const MAX_CLASSES = 48;

export interface Pair {
  shape: number;
  colour: number;
}

/**
 * Class k is (shape floor(k / b), colour k mod b) with b class colours: 2 up to 16 classes
 * (8 classes = 4 shapes x 2 colours), then as few as fit.
 */
export function classPairs(numClasses: number): Pair[] {
  const colours = Math.max(2, Math.ceil(numClasses / SHAPES.length));
  return Array.from({ length: numClasses }, (_, k) => ({ shape: Math.floor(k / colours), colour: k % colours }));
}

/** Every (shape, colour) pair that is not a class: what distractors are made of. */
export function distractorPairs(classes: readonly Pair[]): Pair[] {
  const taken = new Set(classes.map((p) => p.shape * COLOURS.length + p.colour));
  const pairs: Pair[] = [];
  for (let s = 0; s < SHAPES.length; s++) {
    for (let c = 0; c < COLOURS.length; c++) if (!taken.has(s * COLOURS.length + c)) pairs.push({ shape: s, colour: c });
  }
  return pairs;
}

export function className(p: Pair): string {
  return `${COLOURS[p.colour].name} ${SHAPES[p.shape]}`;
}

/** One-hot groups: shape, colour, texture, size. */
export const ATTRIBUTE_NAMES: readonly string[] = [
  ...SHAPES.map((s) => `shape:${s}`),
  ...COLOURS.map((c) => `colour:${c.name}`),
  ...TEXTURES.map((t) => `texture:${t}`),
  ...SIZES.map((s) => `size:${s.name}`),
];
