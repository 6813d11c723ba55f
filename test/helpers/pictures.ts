import assert from 'node:assert/strict';
import sharp from 'sharp';
import { computeMetrics } from '../../src/metrics/classification.js';
import { PNG_SCALE, type Picture } from '../../src/evaluate/picture.js';

/** 40 images of one white square each (its place varies) with made-up probabilities. */
export function constructedSet() {
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

export async function assertValidPicture(picture: Picture): Promise<void> {
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
