/**
 * The one owner of randomness. Every random choice in the project (splits, shuffles,
 * augmentation, weight initialisation seeds) draws from an Rng made here, so that a seed
 * makes a run repeatable.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next: () => number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(items: T): T;
  /** A new independent stream, derived from this one (for sub-tasks that must not disturb it). */
  fork(): Rng;
  /** A 31-bit integer seed for APIs that take a seed of their own (tfjs initialisers, dropout). */
  seed(): number;
}

/** mulberry32: small, fast, and good enough for shuffles and augmentation. */
export function createRng(seed: number): Rng {
  let state = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng: Rng = {
    next,
    int: (n) => Math.floor(next() * n),
    normal: () => {
      const u = 1 - next();
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    shuffle(items) {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        const tmp = items[i];
        items[i] = items[j];
        items[j] = tmp;
      }
      return items;
    },
    fork: () => createRng(Math.floor(next() * 2 ** 31)),
    seed: () => Math.floor(next() * 2 ** 31),
  };
  return rng;
}

/**
 * A seed for one named piece of a run (the shuffle of epoch 3, the augmentation of batch 17),
 * computed from the run's seed alone. Resuming mid-run needs no saved RNG state: the same
 * (seed, parts) always give the same stream.
 */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = (Math.trunc(seed) ^ 0x811c9dc5) >>> 0;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x01000193) >>> 0;
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d) >>> 0;
    h ^= h >>> 12;
  }
  return h & 0x7fffffff;
}
