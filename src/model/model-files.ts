import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readRegularFile } from '../util/fs.js';
import { WEIGHTS_FILE } from './layers-format.js';

/**
 * The files of a model in the TensorFlow.js layers format (named in layers-format.ts) and the
 * checksum of its weights, kept apart from io.ts so that what only names or checks the files
 * never loads TensorFlow.js.
 */
export { MODEL_FILE, WEIGHTS_FILE } from './layers-format.js';

export const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The SHA-256 (hex) of a model folder's weights.bin, or undefined when it has none. */
export async function weightsSha256(dir: string): Promise<string | undefined> {
  const path = join(dir, WEIGHTS_FILE);
  return existsSync(path) ? sha256Hex(await readRegularFile(path, 'the weights')) : undefined;
}
