export * from './types.js';
export * from './idx.js';
export * from './checksums.js';
export * from './load.js';
export * from './split.js';
