import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { computeMetrics } from '../../src/metrics/classification.js';
import { confusionMatrixSpec, learningCurvesSpec, perClassSpec, reliabilitySpec, renderSpec } from '../../src/evaluate/charts.js';
import { worstErrorsGallery } from '../../src/evaluate/galleries.js';
import { PNG_SCALE, type Picture } from '../../src/evaluate/picture.js';
import { readRunHistory } from '../../src/model/history.js';
import { FIXTURE_HISTORY, removeTempDirs, tempDir } from './fixtures.js';

const CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** 40 images of one white square each (its place varies) with made-up probabilities. */
function constructedSet() {
  const n = 40;
  const images = new Uint8Array(n * 784);
  const labels = new Uint8Array(n);
  const probs = new Float32Array(n * 10).fill(0.02);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 10;
    const predicted = i % 3 === 0 ? (i + 1) % 10 : i % 10;
    probs[i * 10 + predicted] = 0.82;
    for (let y = 4; y < 12; y++) for (let x = 4 + (i % 10); x < 12 + (i % 10); x++) images[i * 784 + y * 28 + x] = 255;
  }
  return { set: { images, labels, count: n }, metrics: computeMetrics(probs, labels) };
}

function svgSize(svg: string): { width: number; height: number } {
  const match = /<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg);
  assert.ok(match, 'the SVG has width and height');
  return { width: Number(match[1]), height: Number(match[2]) };
}

async function assertValidPicture(picture: Picture): Promise<void> {
  assert.match(picture.svg, /^<svg[\s>]/);
  assert.match(picture.svg, /<\/svg>$/);
  // librsvg (through sharp) parses it, and sees the size the SVG declares.
  const svgMeta = await sharp(Buffer.from(picture.svg)).metadata();
  assert.equal(svgMeta.format, 'svg');
  const { width, height } = svgSize(picture.svg);
  assert.equal(svgMeta.width, Math.round(width));
  const pngMeta = await sharp(picture.png).metadata();
  assert.equal(pngMeta.format, 'png');
  assert.equal(pngMeta.width, Math.round(width * PNG_SCALE));
  assert.equal(pngMeta.height, Math.round(height * PNG_SCALE));
  assert.equal(picture.width, pngMeta.width);
  // Not blank: a rendered chart has both dark and white pixels.
  const stats = await sharp(picture.png).stats();
  assert.ok(stats.channels[0].min < 100 && stats.channels[0].max > 200, 'the PNG has content');
}

after(removeTempDirs);

test('every chart renders to a valid SVG and a PNG of twice its size, with its text', async () => {
  const { metrics } = constructedSet();
  const dir = await tempDir('mnist-cnn-plots-');
  await writeFile(join(dir, 'history.csv'), FIXTURE_HISTORY);
  const history = await readRunHistory(dir);
  assert.equal(history?.length, 3);
  assert.deepEqual(history?.[1], { epoch: 2, loss: 1.2, accuracy: 0.7, val_loss: 1.0, val_accuracy: 0.76, lr: 0.003, seconds: 20 });
  // An epoch without validation (empty cells) draws train points only.
  const values = (learningCurvesSpec([...history!, { epoch: 4, loss: 0.5, accuracy: 0.9, val_loss: null, val_accuracy: null, lr: 0.001, seconds: 20 }]) as { data: { values: { set: string; epoch: number; value: number }[] } }).data.values;
  assert.equal(values.length, 3 * 4 + 2);
  assert.deepEqual(values.filter((v) => v.epoch === 4).map((v) => v.set), ['train', 'train']);
  assert.ok(values.every((v) => typeof v.value === 'number'));
  const charts: [string, Picture][] = [
    ['Loss (cross-entropy)', await renderSpec(learningCurvesSpec(history!))],
    ['Confusion matrix', await renderSpec(confusionMatrixSpec(metrics.confusionMatrix, CLASSES))],
    ['Precision, recall and F1', await renderSpec(perClassSpec(metrics.perClass, CLASSES))],
    ['Reliability diagram', await renderSpec(reliabilitySpec(metrics.calibration, metrics.ece))],
  ];
  for (const [title, picture] of charts) {
    await assertValidPicture(picture);
    assert.ok(picture.svg.includes(title), `${title}: title in the SVG`);
  }
  // The confusion matrix annotates every cell with its count.
  const cellTexts = charts[1][1].svg.match(/<text[^>]*>\d+<\/text>/g) ?? [];
  assert.ok(cellTexts.length >= 100, `100 cell labels, got ${cellTexts.length}`);
});

test('the worst-errors gallery holds one tile per error, with its captions', async () => {
  const { set, metrics } = constructedSet();
  const picture = await worstErrorsGallery(set, metrics.worstErrors, CLASSES);
  await assertValidPicture(picture);
  assert.equal((picture.svg.match(/<image /g) ?? []).length, metrics.worstErrors.length);
  assert.equal((picture.svg.match(/data:image\/png;base64,/g) ?? []).length, metrics.worstErrors.length);
  const first = metrics.worstErrors[0];
  assert.ok(picture.svg.includes(`#${first.index}`));
  assert.ok(picture.svg.includes(`true ${first.true}`));
  assert.ok(picture.svg.includes(`pred ${first.predicted} 82%`));
});

test('a history.csv without the expected columns is refused, naming the file and the columns', async () => {
  const dir = await tempDir('mnist-cnn-plots-');
  await writeFile(join(dir, 'history.csv'), 'epoch,loss,accuracy\n1,0.5,0.9\n');
  await assert.rejects(readRunHistory(dir), (err: Error) => err.message.includes(join(dir, 'history.csv')) && err.message.includes('val_loss'));
  assert.equal(await readRunHistory(await tempDir('mnist-cnn-plots-')), undefined);
});
