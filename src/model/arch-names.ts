/**
 * The architectures `buildModel` builds (model/architectures.ts, whose builder table is typed by
 * this list, so the two cannot drift). Kept apart from TensorFlow.js so that the command line
 * can offer the choices without paying for loading it.
 */
export const ARCHITECTURES = ['default', 'compact', 'lenet5', 'keras'] as const;
export type Arch = (typeof ARCHITECTURES)[number];
