import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The trained models that ship inside the package, so that nothing needs training before it
 * reads a digit. Each is a normal run folder under `models/<name>/` at the package root (made by
 * `npm run model:release`, which records the recipe in its metadata), so every command and the
 * library load it as they load any run: `mnist-cnn predict digit.png` uses `default`.
 */
export const SHIPPED_MODELS = ['default'] as const;
export type ShippedModelName = (typeof SHIPPED_MODELS)[number];
export const DEFAULT_SHIPPED_MODEL: ShippedModelName = 'default';

export function isShippedModelName(name: string): name is ShippedModelName {
  return (SHIPPED_MODELS as readonly string[]).includes(name);
}

/** The folder of a shipped model: `models/<name>` two levels above this file, in src/ and in dist/ alike. */
export function shippedModelDir(name: ShippedModelName = DEFAULT_SHIPPED_MODEL): string {
  return fileURLToPath(new URL(`../../models/${name}`, import.meta.url));
}

/**
 * The shipped model a folder is, if any. Such a folder is part of the installed package and
 * read-only to every command: what they would write into a run folder goes elsewhere.
 */
export function shippedModelOf(dir: string): ShippedModelName | undefined {
  const real = resolve(dir);
  return SHIPPED_MODELS.find((name) => resolve(shippedModelDir(name)) === real);
}
