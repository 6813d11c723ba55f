// Every relative link in the README and docs/ points at a file of the repo (and, with a #part,
// at one of its headings): a doc moved or renamed breaks the test, not a user's click.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const DOCS = [
  'README.md',
  'ARCHITECTURE.md',
  ...readdirSync('docs')
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f)),
];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsIn(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} +(.+)$/gm)].map((m) => anchorOf(m[1])));
}

test('relative links in the README and docs/ reach a file and a heading', () => {
  const broken: string[] = [];
  let checked = 0;
  for (const doc of DOCS) {
    const text = readFileSync(doc, 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target)) continue;
      const [path, anchor] = target.split('#');
      const file = path ? resolve(dirname(doc), path) : resolve(doc);
      checked++;
      if (!existsSync(file)) broken.push(`${doc}: ${target} (no such file)`);
      else if (anchor && file.endsWith('.md') && !anchorsIn(file).has(anchor))
        broken.push(`${doc}: ${target} (no such heading)`);
    }
  }
  assert.ok(checked > 10, `only ${checked} links found: the link pattern no longer matches`);
  assert.deepEqual(broken, []);
});
