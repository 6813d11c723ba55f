import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { buildReport } from '../../src/evaluate/report.js';
import type { FinetuneRecord } from '../../src/model/run.js';
import { makeRunDir, removeTempDirs, startBackend } from '../helpers/run-fixtures.js';

before(startBackend);
after(removeTempDirs);

const record = (base: string): FinetuneRecord => ({
  base: {
    dir: base,
    shipped: 'default',
    weightsSha256: 'ab'.repeat(32),
    test: { accuracy: 0.9948, loss: 0.027, n: 10000 },
  },
  data: { dir: '/home/me/corrections', sha256: 'cd'.repeat(32), perClass: [10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3] },
  holdout: { count: 20, before: { n: 20, accuracy: 0.85, refused: 0.05 }, after: { n: 20, accuracy: 1, refused: 0 } },
  mix: { corrections: 83, copies: 40, rehearsal: 10000, share: 0.249, nonDigitPictures: 534 },
  settings: {
    epochs: 1,
    lr: 0.0005,
    holdout: 0.2,
    userShare: 0.25,
    rehearsal: 10000,
    nonDigitsPerCategory: 100,
    seed: 1,
  },
});

test("a fine-tuned run's report has a Fine-tuning section after the summary: the base beside the run on the held-out corrections and MNIST test", async () => {
  const base = await makeRunDir();
  const dir = await makeRunDir({ meta: { finetune: record(base) } });
  const html = await readFile(await buildReport(dir), 'utf8');
  const metrics = JSON.parse(await readFile(`${dir}/metrics.json`, 'utf8'));
  const section = /<section id="finetune"><h2>Fine-tuning<\/h2>([\s\S]*?)<\/section>/.exec(html)?.[1] ?? '';
  assert.ok(
    html.indexOf('<section id="headline">') < html.indexOf('<section id="finetune">') &&
      html.indexOf('<section id="finetune">') < html.indexOf('<section id="curves">'),
  );
  assert.match(html, /<nav><a href="#headline">Summary<\/a><a href="#finetune">Fine-tuning<\/a>/);
  assert.match(
    section,
    /Fine-tuned from the model shipped in the package \(default\) on <b>100<\/b> corrected digits and 3 pictures marked "not a digit" from <code>\/home\/me\/corrections<\/code>/,
  );
  assert.match(section, /<th>base run<\/th><th>fine-tuned<\/th>/);
  assert.match(
    section,
    /<td>your held-out digits \(20\), read right<\/td><td>85\.00%<\/td><td>100\.00%<\/td><td>\+15\.00<\/td>/,
  );
  const change = ((metrics.accuracy - 0.9948) * 100).toFixed(2);
  assert.ok(
    section.includes(
      `<td>MNIST test (10,000), accuracy</td><td>99.48%</td><td>${(metrics.accuracy * 100).toFixed(2)}%</td><td>${Number(change) >= 0 ? '+' : '−'}${Math.abs(Number(change)).toFixed(2)}</td>`,
    ),
    section,
  );
  assert.match(
    section,
    /each 40 times .* among 10,000 images of the base run's own MNIST training split, so that corrections were 25% of the digits, with 534 generated non-digit pictures/,
  );
});
