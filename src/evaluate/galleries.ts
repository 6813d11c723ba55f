/**
 * Image galleries of the evaluate stage (worst errors, most-confused pairs): SVG written here
 * around PNG tiles of the images, then PNG (picture.ts).
 */
import sharp from 'sharp';
import { IMAGE_SIZE, PIXELS, type ImageSet } from '../data/types.js';
import type { ConfusedPair, WorstError } from '../metrics/classification.js';
import { escapeMarkup } from '../util/markup.js';
import { FONT, PNG_SCALE, svgToPng, type Picture } from './picture.js';

export interface GalleryItem {
  /** Index of the image in the set. */
  index: number;
  lines: string[];
  /** Highlight (red frame) for errors. */
  wrong?: boolean;
}

const TILE = 84;
const CAPTION_LINE = 14;

/** One 28x28 image as a PNG, upscaled without smoothing so that pixels stay square. */
async function tilePng(set: ImageSet, index: number): Promise<string> {
  const pixels = Buffer.from(set.images.subarray(index * PIXELS, (index + 1) * PIXELS));
  const side = TILE * PNG_SCALE;
  const png = await sharp(pixels, { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 } })
    .resize(side, side, { kernel: 'nearest' })
    .png()
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

/**
 * A grid of images with captions, as SVG. Rows may start with a heading (the confused-pairs
 * gallery has one row per pair).
 */
export async function renderGallery(
  set: ImageSet,
  title: string,
  rows: { heading?: string; items: GalleryItem[] }[],
  columns: number,
  subtitle?: string,
): Promise<Picture> {
  const pad = 12;
  const captionLines = Math.max(1, ...rows.flatMap((r) => r.items.map((i) => i.lines.length)));
  const cellW = TILE + 26;
  const cellH = TILE + 8 + captionLines * CAPTION_LINE + 10;
  const headingH = rows.some((r) => r.heading) ? 20 : 0;
  const top = 30 + (subtitle ? 18 : 0);
  let y = top;
  const parts: string[] = [];
  for (const row of rows) {
    if (row.heading) {
      parts.push(
        `<text x="${pad}" y="${y + 14}" font-size="13" font-weight="bold">${escapeMarkup(row.heading)}</text>`,
      );
      y += headingH;
    }
    for (let start = 0; start < row.items.length; start += columns) {
      const line = row.items.slice(start, start + columns);
      for (const [c, item] of line.entries()) {
        const x = pad + c * cellW;
        parts.push(
          `<image x="${x}" y="${y}" width="${TILE}" height="${TILE}" xlink:href="${await tilePng(set, item.index)}" style="image-rendering:pixelated"/>`,
        );
        if (item.wrong)
          parts.push(
            `<rect x="${x - 1}" y="${y - 1}" width="${TILE + 2}" height="${TILE + 2}" fill="none" stroke="#d62728" stroke-width="2"/>`,
          );
        item.lines.forEach((text, l) => {
          parts.push(
            `<text x="${x}" y="${y + TILE + 14 + l * CAPTION_LINE}" font-size="11">${escapeMarkup(text)}</text>`,
          );
        });
      }
      y += cellH;
    }
  }
  const width = pad * 2 + columns * cellW - 26 + 10;
  const height = y + pad - 10;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">` +
    `<rect width="${width}" height="${height}" fill="white"/>` +
    `<text x="${pad}" y="22" font-size="15" font-weight="bold">${escapeMarkup(title)}</text>` +
    (subtitle ? `<text x="${pad}" y="40" font-size="11" fill="#555">${escapeMarkup(subtitle)}</text>` : '') +
    parts.join('') +
    '</svg>';
  return { svg, ...(await svgToPng(svg)) };
}

const percent = (x: number, digits = 1) => `${(x * 100).toFixed(digits)}%`;

const GALLERY_COLUMNS = 8;
const GALLERY_PAIRS = 6;

/** The highest-confidence wrong answers, with true label, prediction and confidence. */
export function worstErrorsGallery(set: ImageSet, errors: WorstError[], classNames: string[]): Promise<Picture> {
  const items = errors.map((e) => ({
    index: e.index,
    wrong: true,
    lines: [`#${e.index}`, `true ${classNames[e.true]}`, `pred ${classNames[e.predicted]} ${percent(e.confidence, 0)}`],
  }));
  return renderGallery(
    set,
    'Worst errors',
    [{ items }],
    GALLERY_COLUMNS,
    'the wrong answers given with the highest confidence (image index, true class, prediction and its probability)',
  );
}

/** One row per most-confused pair, with its most confident examples. */
export function confusedPairsGallery(set: ImageSet, pairs: ConfusedPair[], classNames: string[]): Promise<Picture> {
  const rows = pairs.slice(0, GALLERY_PAIRS).map((pair) => ({
    heading: `true ${classNames[pair.true]} → predicted ${classNames[pair.predicted]}: ${pair.count} image${pair.count === 1 ? '' : 's'}`,
    items: (pair.examples ?? []).slice(0, GALLERY_COLUMNS).map((e) => ({
      index: e.index,
      wrong: true,
      lines: [`#${e.index}`, `P(${classNames[pair.predicted]}) ${percent(e.confidence, 0)}`],
    })),
  }));
  return renderGallery(
    set,
    'Most-confused pairs',
    rows,
    GALLERY_COLUMNS,
    'each row: one confusion and its most confident examples (image index, probability of the wrong class)',
  );
}
