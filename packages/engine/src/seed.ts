/**
 * Seeded randomness. One run seed feeds every consumer through named streams (`rng('shuffle')`,
 * `rng('augment')`), so adding a consumer never shifts another's numbers, and the same seed gives
 * the same run on every machine.
 *
 * tfjs draws the seed of any random op that was not given one (layer initializers, dropout,
 * `tf.randomUniform` without a seed) from `Math.random()`. `seed(n)` therefore also replaces
 * `Math.random` with a stream of this generator; that is the only hook tfjs offers.
 */

/** sfc32: a small chaotic generator with 128 bits of state; fast in JS and statistically sound. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number | string, stream: number | string = 0) {
    // splitmix32 spreads (seed, stream) over the four state words.
    let s = (hash32(String(seed)) ^ Math.imul(hash32(String(stream)), 0x9e3779b9)) >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** Uniform 32-bit unsigned integer. */
  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Normal deviate (Box-Muller). */
  normal(mean = 0, std = 1): number {
    const u = 1 - this.next();
    const v = this.next();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** A positive integer seed for a tfjs op that takes one (tfjs treats seed 0 as "unseeded"). */
  opSeed(): number {
    return 1 + (this.uint32() % 2147483646);
  }
}

/** FNV-1a over the UTF-16 code units, then a final avalanche. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

const nativeRandom = Math.random;
let runSeed: number | undefined;

/**
 * Sets the run seed: every `rng(stream)` after this call, and every unseeded tfjs random op
 * (through `Math.random`), becomes a function of `n`.
 */
export function seed(n: number): void {
  if (!Number.isInteger(n)) throw new Error(`seed must be an integer, got ${n}`);
  runSeed = n;
  const stream = new Rng(n, 'Math.random');
  Math.random = () => stream.next();
}

/** The seed set by `seed()`, or undefined when none was set. */
export function currentSeed(): number | undefined {
  return runSeed;
}

/** Undoes `seed()`: restores the platform `Math.random`. */
export function unseed(): void {
  runSeed = undefined;
  Math.random = nativeRandom;
}

/**
 * An independent generator for one purpose (`'shuffle'`, `'augment:epoch3'`), derived from the
 * run seed (0 when `seed()` was never called, so library use stays repeatable).
 */
export function rng(stream: string | number): Rng {
  return new Rng(runSeed ?? 0, stream);
}
