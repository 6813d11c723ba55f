/**
 * Rewrites the README's table of training config keys from the schema (src/train/config.ts),
 * between the `<!-- config-table -->` markers. `npm run docs:config`; the config test fails when
 * the README and the schema differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { configTableMarkdown } from '../src/train/config.js';

const START = '<!-- config-table:start (made by `npm run docs:config` from src/train/config.ts) -->';
const END = '<!-- config-table:end -->';

const readme = readFileSync('README.md', 'utf8');
const from = readme.indexOf(START);
const to = readme.indexOf(END);
if (from < 0 || to < from) {
  console.error(`README.md has no ${START} ... ${END} block`);
  process.exit(2);
}
writeFileSync('README.md', `${readme.slice(0, from + START.length)}\n${configTableMarkdown()}\n${readme.slice(to)}`);
console.log('README.md: config table rewritten');
