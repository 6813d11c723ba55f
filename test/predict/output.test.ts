import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interpretProbabilities } from '../../src/predict/interpret.js';
import { formatRows } from '../../src/predict/output.js';
import type { PredictionRow } from '../../src/predict/predict-files.js';

const rule = { minConfidence: 0.5, notADigitBelow: 1 };
/** Eleven outputs (the ten digits, then "not a digit"): a clear 3, and a picture that is no digit. */
const three = interpretProbabilities([0.001, 0, 0, 0.989, 0, 0, 0, 0, 0, 0, 0.01], rule);
const dot = interpretProbabilities([0.02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.98], rule);

test('with the not-a-digit output, CSV has a not_a_digit column and JSON a notADigit field', () => {
  const rows: PredictionRow[] = [
    { file: 'three.png', prediction: three },
    { file: 'dot.png', prediction: dot },
    { file: 'broken.png', error: 'not an image' },
  ];
  const csv = formatRows(rows, 'csv').trim().split('\n');
  assert.equal(csv[0], 'file,digit,confidence,p0,p1,p2,p3,p4,p5,p6,p7,p8,p9,not_a_digit,set,reason');
  assert.match(csv[1], /^three\.png,3,0\.989000,(?:[\d.]+,){10}0\.010000,3,$/);
  assert.match(
    csv[2],
    /^dot\.png,,0\.020000,(?:[\d.]+,){10}0\.980000,,"not a digit \(not-a-digit 0\.98, best digit 0\.02: margin -3\.89 < 1\.00\)"$/,
  );
  // An error row has as many cells as the header.
  assert.equal(csv[3].split(',').length, csv[0].split(',').length, csv[3]);
  const json = formatRows(rows, 'json')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.equal(json[0].notADigit, 0.01);
  assert.deepEqual(json[0].set, [3]);
  assert.equal(json[1].digit, null);
  assert.deepEqual(json[1].set, []);
  assert.equal(json[1].probabilities.length, 10);
  // The table: a refused picture shows the not-a-digit probability beside its best digit.
  const table = formatRows(rows, 'table');
  assert.match(table, /dot\.png +- {2}\(not a digit \(.*\); best: 0 2\.0%; not a digit 98\.0%\)/);
  assert.match(table, /three\.png +3 {2}98\.9%/);
});

test("a ten-output model's rows have no not_a_digit column", () => {
  const csv = formatRows(
    [{ file: 'a.png', prediction: interpretProbabilities([0.9, 0.1, 0, 0, 0, 0, 0, 0, 0, 0], { minConfidence: 0.5 }) }],
    'csv',
  );
  assert.equal(csv.split('\n')[0], 'file,digit,confidence,p0,p1,p2,p3,p4,p5,p6,p7,p8,p9,set,reason');
  assert.equal(
    'notADigit' in
      JSON.parse(
        formatRows(
          [
            {
              file: 'a.png',
              prediction: interpretProbabilities([0.9, 0.1, 0, 0, 0, 0, 0, 0, 0, 0], { minConfidence: 0.5 }),
            },
          ],
          'json',
        ),
      ),
    false,
  );
});

test('a set of more than one digit shows in every format: "4 or 9" in the table, "4 9" in CSV, an array in JSON', () => {
  const sets = { unsureBelow: 0.99, sure: 1, unsure: 0.02 };
  const unsure = interpretProbabilities([0, 0, 0, 0, 0.58, 0, 0, 0.03, 0, 0.39], { minConfidence: 0.5, sets });
  const unsurer = interpretProbabilities([0, 0, 0, 0, 0.45, 0, 0, 0.15, 0, 0.4], { minConfidence: 0.5, sets });
  const rows: PredictionRow[] = [
    { file: 'four.png', prediction: unsure },
    { file: 'blur.png', prediction: unsurer },
  ];
  const table = formatRows(rows, 'table');
  assert.match(table, /four\.png +4 {2}58\.0% {2}set: 4, 9 or 7\n/);
  assert.match(table, /blur\.png +- {2}\(low confidence \(0\.45 < 0\.5\); best: 4 45\.0%; set: 4, 9 or 7\)/);
  assert.match(formatRows(rows, 'csv').split('\n')[1], /,4 9 7,$/);
  assert.deepEqual(JSON.parse(formatRows(rows, 'json').split('\n')[1]).set, [4, 9, 7]);
});
