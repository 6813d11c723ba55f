/**
 * Reading a config: a JSON file of config keys, and the resolution defaults → preset → file →
 * flags. The keys, their checks and the presets are config.ts's (which reads no file, so that
 * a browser can use them).
 */
import { existsSync, readFileSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import { presetConfig, validateOverrides, type TrainConfig } from './config.js';

/** A JSON file of config keys (`--config`, or a run's config.json at resume); errors name the file. */
export function readConfigFile(path: string, what = 'config file'): Partial<TrainConfig> {
  if (!existsSync(path)) throw new UserError(`${what} ${path} does not exist`, path);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`, path);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UserError(`${path}: must hold a JSON object of config keys`, path);
  }
  return validateOverrides(parsed as Record<string, unknown>, path);
}

/** defaults → preset → config file → flags. */
export function resolveConfig(
  options: { preset?: string; configFile?: string; flags?: Record<string, unknown> } = {},
): TrainConfig {
  const file = options.configFile ? readConfigFile(options.configFile) : {};
  return presetConfig(options.preset, file, validateOverrides(options.flags ?? {}, 'flags'));
}
