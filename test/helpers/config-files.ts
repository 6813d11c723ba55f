import { after } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A `train.json` in a fresh temp folder (removed when the test file ends): JSON of `value`, or `value` itself when it is a string. */
export function writeConfig(value: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'mnist-cnn-config-'));
  dirs.push(dir);
  const path = join(dir, 'train.json');
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}
