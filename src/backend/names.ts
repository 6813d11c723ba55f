/**
 * The TensorFlow.js backends `initBackend` starts (backend/index.ts). Kept apart from
 * TensorFlow.js so that the command line can offer the choices without loading it.
 */
export const BACKENDS = ['wasm', 'cpu', 'tensorflow'] as const;
export type BackendName = (typeof BACKENDS)[number];
