/**
 * `predict --explain`: a PNG strip of every preprocessing stage of one input, left to right,
 * each with its name, so a person can see where a reading went wrong. Node only (sharp).
 */
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../util/fs.js';
import type { Stage } from '../image/preprocess.js';
import type { PredictionRow } from './predict-files.js';
import { escapeMarkup } from '../util/markup.js';

const TILE = 140;
const GAP = 8;
const CAPTION = 18;

async function stageTile(stage: Stage): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  // Small stages (28x28) are blown up with square pixels; photos are shrunk smoothly.
  const kernel = Math.max(stage.width, stage.height) < TILE ? 'nearest' : 'lanczos3';
  return sharp(stage.pixels, { raw: { width: stage.width, height: stage.height, channels: 1 } })
    .resize({ width: TILE, height: TILE, fit: 'contain', kernel, background: { r: 40, g: 40, b: 60 } })
    .png()
    .toBuffer();
}

async function stagesStrip(stages: Stage[], title?: string): Promise<Uint8Array> {
  const { default: sharp } = await import('sharp');
  const width = stages.length * (TILE + GAP) + GAP;
  const top = title ? CAPTION + GAP : GAP;
  const height = top + TILE + CAPTION + GAP;
  const tiles = await Promise.all(stages.map(stageTile));
  const captions = stages
    .map(
      (s, i) =>
        `<text x="${GAP + i * (TILE + GAP) + TILE / 2}" y="${top + TILE + CAPTION - 4}" text-anchor="middle">${escapeMarkup(`${s.name} ${s.width}x${s.height}`)}</text>`,
    )
    .join('');
  const heading = title ? `<text x="${GAP}" y="${CAPTION}">${escapeMarkup(title)}</text>` : '';
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g font-family="DejaVu Sans, sans-serif" font-size="12" fill="#ddd">${heading}${captions}</g></svg>`;
  const png = await sharp({ create: { width, height, channels: 3, background: { r: 24, g: 24, b: 32 } } })
    .composite([
      ...tiles.map((input, i) => ({ input, left: GAP + i * (TILE + GAP), top })),
      { input: Buffer.from(svg), left: 0, top: 0 },
    ])
    .png()
    .toBuffer();
  return new Uint8Array(png);
}

/** A file name for row `i` that is unique in the folder and still says which input it was. */
function explainFileName(row: PredictionRow, i: number): string {
  const name = basename(row.file)
    .replace(/\.[a-z0-9]+$/i, '')
    .replace(/[^\w.-]+/g, '_');
  return `${String(i + 1).padStart(4, '0')}-${name}.png`;
}

function readingOf(row: PredictionRow): string {
  if (row.number) return `read as ${row.number.text || '-'}`;
  const p = row.prediction;
  if (!p) return '';
  return p.digit === null ? `not a digit: ${p.reason}` : `read as ${p.digit} (${(p.confidence * 100).toFixed(1)}%)`;
}

/** Write one strip per row that has stages; returns the paths written. */
export async function writeExplanations(rows: PredictionRow[], outDir: string): Promise<string[]> {
  const written: string[] = [];
  for (const [i, row] of rows.entries()) {
    if (!row.stages?.length) continue;
    const path = join(outDir, explainFileName(row, i));
    await writeFileAtomic(path, await stagesStrip(row.stages, `${row.file}: ${readingOf(row)}`));
    written.push(path);
  }
  return written;
}
