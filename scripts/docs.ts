/**
 * `npm run docs`: rewrite every generated block of README.md and docs/*.md (scripts/docs-blocks.ts)
 * from its source. Run it after a bench whose JSON you keep in bench/results/, a model release,
 * or a change of the config schema.
 */
import { writeFileSync } from 'node:fs';
import { docFiles } from './docs-blocks.js';

for (const { file, text, generated } of docFiles()) {
  if (generated === text) continue;
  writeFileSync(file, generated);
  console.log(`${file}: generated blocks rewritten`);
}
