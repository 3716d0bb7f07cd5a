import { Rng } from '@gaze/engine';
import { boxOfMask, boxesOverlap } from '../../box.js';
import type { Box, Item } from '../../types.js';
import { ATTRIBUTE_NAMES, COLOURS, SHAPES, SIZES, TEXTURES, type Pair } from './palette.js';

export interface SceneOptions {
  size: number;
  classes: readonly Pair[];
  distractorPairs: readonly Pair[];
  maxDistractors: number;
}

interface Placed {
  pair: Pair;
  texture: number;
  sizeIndex: number;
  cx: number;
  cy: number;
  r: number;
  angle: number;
}

/** The class of an example: the first draw of its generator, so it is known without rendering. */
export function sceneLabel(rng: Rng, numClasses: number): number {
  return rng.int(numClasses);
}

/** Whether (u, v), in units of the object's radius around its centre, is inside the shape. */
function inside(shape: number, u: number, v: number): boolean {
  const au = Math.abs(u);
  const av = Math.abs(v);
  switch (SHAPES[shape]) {
    case 'circle':
      return u * u + v * v <= 1;
    case 'square':
      return au <= 0.8 && av <= 0.8;
    case 'triangle': // apex up (v grows downwards)
      return v <= 0.55 && v >= -1 + 1.75 * au;
    case 'star': {
      const rho = Math.sqrt(u * u + v * v);
      const theta = Math.atan2(v, u);
      return rho <= 0.5 + 0.5 * Math.max(0, Math.cos(5 * theta)) ** 2;
    }
    case 'cross':
      return (au <= 0.3 && av <= 0.95) || (av <= 0.3 && au <= 0.95);
    case 'diamond':
      return au + av <= 1;
    case 'hexagon':
      return av <= 0.866 && 0.866 * au + 0.5 * av <= 0.866;
    case 'ring': {
      const d = u * u + v * v;
      return d <= 1 && d >= 0.36;
    }
    default:
      return false;
  }
}

function boxOf(p: Placed, size: number): Box {
  return {
    x0: Math.max(0, Math.floor(p.cx - p.r)),
    y0: Math.max(0, Math.floor(p.cy - p.r)),
    x1: Math.min(size, Math.ceil(p.cx + p.r) + 1),
    y1: Math.min(size, Math.ceil(p.cy + p.r) + 1),
    label: -1,
  };
}

function place(rng: Rng, pair: Pair, size: number): Placed {
  const sizeIndex = rng.int(SIZES.length);
  const r = SIZES[sizeIndex].radius * size * rng.uniform(0.9, 1.1);
  const margin = r + 1;
  return {
    pair,
    texture: rng.int(TEXTURES.length),
    sizeIndex,
    r,
    cx: rng.uniform(margin, size - margin),
    cy: rng.uniform(margin, size - margin),
    angle: rng.uniform(0, 2 * Math.PI),
  };
}

/** Paints an object; marks its pixels in `mask` when given; returns the box of what it painted. */
function paint(image: Float32Array, size: number, p: Placed, rng: Rng, mask?: Uint8Array): Box | null {
  const { x0, y0, x1, y1 } = boxOf(p, size);
  const [cr, cg, cb] = COLOURS[p.pair.colour].rgb;
  const cos = Math.cos(p.angle);
  const sin = Math.sin(p.angle);
  const period = Math.max(3, Math.round(size / 16));
  const own = new Uint8Array(size * size);
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const dx = (x + 0.5 - p.cx) / p.r;
      const dy = (y + 0.5 - p.cy) / p.r;
      if (!inside(p.pair.shape, dx * cos + dy * sin, -dx * sin + dy * cos)) continue;
      let shade = 1;
      if (TEXTURES[p.texture] === 'striped') {
        if (Math.floor((x * cos + y * sin + 1000) / period) % 2 === 0) shade = 0.5;
      } else if (TEXTURES[p.texture] === 'dotted') {
        const mx = (x % period) - period / 2 + 0.5;
        const my = (y % period) - period / 2 + 0.5;
        if (mx * mx + my * my <= (period * period) / 9) shade = 0.45;
      }
      const jitter = 1 + (rng.next() - 0.5) * 0.06;
      const i = (y * size + x) * 3;
      image[i] = Math.min(1, cr * shade * jitter);
      image[i + 1] = Math.min(1, cg * shade * jitter);
      image[i + 2] = Math.min(1, cb * shade * jitter);
      own[y * size + x] = 1;
      if (mask) mask[y * size + x] = 1;
    }
  }
  return boxOfMask(own, size, size, -1);
}

/** A desaturated colour: what the background and clutter are made of, so they carry no class hue. */
function muted(rng: Rng, lo: number, hi: number): [number, number, number] {
  const grey = rng.uniform(lo, hi);
  const tint = [rng.uniform(-0.06, 0.06), rng.uniform(-0.06, 0.06), rng.uniform(-0.06, 0.06)];
  return [grey + tint[0], grey + tint[1], grey + tint[2]];
}

function paintBackground(image: Float32Array, size: number, rng: Rng): void {
  const base = muted(rng, 0.3, 0.6);
  const gx = rng.uniform(-0.15, 0.15) / size;
  const gy = rng.uniform(-0.15, 0.15) / size;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const g = gx * (x - size / 2) + gy * (y - size / 2) + (rng.next() - 0.5) * 0.12;
      const i = (y * size + x) * 3;
      image[i] = base[0] + g;
      image[i + 1] = base[1] + g;
      image[i + 2] = base[2] + g;
    }
  }
  // Clutter: short strokes and small blobs in muted tones.
  const strokes = 3 + rng.int(5);
  for (let s = 0; s < strokes; s++) {
    const c = muted(rng, 0.15, 0.85);
    const ax = rng.uniform(0, size);
    const ay = rng.uniform(0, size);
    const len = rng.uniform(size * 0.15, size * 0.5);
    const dir = rng.uniform(0, 2 * Math.PI);
    const width = 1 + rng.int(2);
    for (let t = 0; t <= len; t += 0.5) {
      const px = Math.floor(ax + Math.cos(dir) * t);
      const py = Math.floor(ay + Math.sin(dir) * t);
      for (let w = 0; w < width; w++) {
        const x = px + w;
        if (x < 0 || py < 0 || x >= size || py >= size) continue;
        const i = (py * size + x) * 3;
        image[i] = c[0];
        image[i + 1] = c[1];
        image[i + 2] = c[2];
      }
    }
  }
  const blobs = 2 + rng.int(4);
  for (let b = 0; b < blobs; b++) {
    const c = muted(rng, 0.15, 0.85);
    const bx = rng.uniform(0, size);
    const by = rng.uniform(0, size);
    const br = rng.uniform(1.5, size * 0.06);
    for (let y = Math.max(0, Math.floor(by - br)); y < Math.min(size, Math.ceil(by + br)); y++) {
      for (let x = Math.max(0, Math.floor(bx - br)); x < Math.min(size, Math.ceil(bx + br)); x++) {
        if ((x + 0.5 - bx) ** 2 + (y + 0.5 - by) ** 2 > br * br) continue;
        const i = (y * size + x) * 3;
        image[i] = c[0];
        image[i + 1] = c[1];
        image[i + 2] = c[2];
      }
    }
  }
  for (let i = 0; i < image.length; i++) image[i] = Math.min(1, Math.max(0, image[i]));
}

/** What was drawn, for tests and previews. */
export interface SceneObject {
  role: 'target' | 'distractor';
  pair: Pair;
  texture: number;
  size: number;
  box: Box;
}

/**
 * Renders example `rng` (a generator seeded by (seed, split, index)) by direct pixel writes:
 * background, clutter, 0..maxDistractors distractors that overlap neither the target nor each
 * other, then the target. Ground truth: the target's mask and box (the box of its mask), the
 * distractors' boxes (label -1), and the target's attribute vector.
 */
export function renderScene(rng: Rng, id: string, o: SceneOptions): { item: Item; objects: SceneObject[] } {
  const { size } = o;
  const label = sceneLabel(rng, o.classes.length);
  const image = new Float32Array(size * size * 3);
  paintBackground(image, size, rng);

  const target = place(rng, o.classes[label], size);
  const targetBox = boxOf(target, size);
  const taken: Box[] = [{ ...targetBox, x0: targetBox.x0 - 1, y0: targetBox.y0 - 1, x1: targetBox.x1 + 1, y1: targetBox.y1 + 1 }];
  const distractorBoxes: Box[] = [];
  const objects: SceneObject[] = [];
  const wanted = rng.int(o.maxDistractors + 1);
  for (let d = 0; d < wanted; d++) {
    const pair = o.distractorPairs[rng.int(o.distractorPairs.length)];
    for (let attempt = 0; attempt < 20; attempt++) {
      const candidate = place(rng, pair, size);
      const box = boxOf(candidate, size);
      if (taken.some((t) => boxesOverlap(t, box))) continue;
      taken.push(box);
      const painted = paint(image, size, candidate, rng);
      if (painted) {
        distractorBoxes.push(painted);
        objects.push({ role: 'distractor', pair, texture: candidate.texture, size: candidate.sizeIndex, box: painted });
      }
      break;
    }
  }
  const mask = new Uint8Array(size * size);
  paint(image, size, target, rng, mask);
  const box = boxOfMask(mask, size, size, label);
  if (box) objects.unshift({ role: 'target', pair: target.pair, texture: target.texture, size: target.sizeIndex, box });

  const attributes = new Float32Array(ATTRIBUTE_NAMES.length);
  attributes[target.pair.shape] = 1;
  attributes[SHAPES.length + target.pair.colour] = 1;
  attributes[SHAPES.length + COLOURS.length + target.texture] = 1;
  attributes[SHAPES.length + COLOURS.length + TEXTURES.length + target.sizeIndex] = 1;

  const item: Item = {
    id,
    height: size,
    width: size,
    channels: 3,
    image,
    label,
    mask,
    boxes: box ? [box, ...distractorBoxes] : distractorBoxes,
    attributes,
  };
  return { item, objects };
}
