/**
 * How the generated blocks of the docs (scripts/docs-*.ts) read their JSON and write their
 * figures: one place, so that a share reads the same in every table.
 */
import { readFileSync } from 'node:fs';

/** A JSON file of the repo (bench/results/*.json, release.json), as the type the caller says it holds. */
export const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** A share as a percentage: 0.9954 → "99.54%". */
export const pct = (x: number, digits = 2): string => `${(x * 100).toFixed(digits)}%`;
