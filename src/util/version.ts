import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const pkg = require('../../package.json') as { version: string };

export const VERSION: string = pkg.version;

/** Versions recorded in every model's metadata. */
export function libraryVersions(): Record<string, string> {
  const versionOf = (name: string): string => {
    try {
      return (require(`${name}/package.json`) as { version: string }).version;
    } catch {
      return 'not installed';
    }
  };
  return {
    'mnist-cnn': VERSION,
    node: process.versions.node,
    '@tensorflow/tfjs': versionOf('@tensorflow/tfjs'),
    '@tensorflow/tfjs-backend-wasm': versionOf('@tensorflow/tfjs-backend-wasm'),
  };
}
