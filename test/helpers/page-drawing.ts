/**
 * Drawing on the draw-a-digit page in Chromium (playwright-core), and reading what it shows:
 * shared by the served page's test and the static site's.
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import sharp from 'sharp';

type Stroke = [number, number][];

export const ONE: Stroke[] = [
  [
    [140, 50],
    [140, 230],
  ],
];
export const SEVEN: Stroke[] = [
  [
    [75, 65],
    [205, 65],
    [115, 235],
  ],
];
/** A 4 in two strokes: an L, then the long downstroke. */
export const FOUR: Stroke[] = [
  [
    [90, 50],
    [70, 170],
    [200, 170],
  ],
  [
    [180, 60],
    [180, 240],
  ],
];
/** Issue 26's scribble: five strokes back and forth down the pad, a zigzag. */
export const ZIGZAG: Stroke[] = [
  [
    [50, 40],
    [230, 80],
  ],
  [
    [230, 80],
    [50, 120],
  ],
  [
    [50, 120],
    [230, 160],
  ],
  [
    [230, 160],
    [50, 200],
  ],
  [
    [50, 200],
    [230, 240],
  ],
];
/**
 * A 9 that could be a 4: its loop drawn square and left open at the top right, then the long
 * downstroke from above where the loop began. (Chosen among variants of the loop's start and the
 * downstroke's top drawn in the page: most of its neighbours' sets hold both 4 and 9 too.)
 */
export const FOUR_OR_NINE: Stroke[] = [
  [
    [170, 90],
    [100, 60],
    [90, 130],
    [185, 135],
  ],
  [
    [190, 70],
    [185, 240],
  ],
];
/** A tap in the middle: one dot of the brush's width. */
export const DOT: Stroke[] = [[[140, 140]]];

/** Mouse strokes on the pad, in the pad's own 280x280 coordinates. */
export async function drawStrokes(page: Page, strokes: Stroke[]): Promise<void> {
  // (On a phone, an open panel below may have scrolled the pad out of view: mouse events need it on screen.)
  await page.locator('#pad').scrollIntoViewIfNeeded();
  const box = await page.locator('#pad').boundingBox();
  assert.ok(box, 'the drawing pad is not visible');
  const at = ([x, y]: [number, number]) => [box.x + (x * box.width) / 280, box.y + (y * box.height) / 280] as const;
  for (const stroke of strokes) {
    await page.mouse.move(...at(stroke[0]));
    await page.mouse.down();
    for (const point of stroke.slice(1)) await page.mouse.move(...at(point), { steps: 8 });
    await page.mouse.up();
  }
}

export interface PaintedBar {
  digit: string;
  probability: number;
  /** Rows of pixels painted (anything but the panel's white) in the middle of the digit's column. */
  painted: number;
  /** The probability times the column's height. */
  expected: number;
}

/**
 * What a person sees of the chart: a screenshot of it, and in each digit's column the rows that
 * are painted above the baseline, against the digit's probability. Read from pixels, not from
 * the bars' boxes, so that anything drawn in a column (a bar, or a track behind it) counts.
 */
export async function paintedBars(page: Page): Promise<PaintedBar[]> {
  // The bars grow with an 80 ms transition: let it end.
  await page.waitForTimeout(300);
  const chart = await page.locator('#chart').boundingBox();
  assert.ok(chart, 'the chart is not visible');
  const columns = await page.locator('#chart li').evaluateAll((items) =>
    items.map((item) => {
      const track = item.querySelector('.track')!;
      const box = track.getBoundingClientRect();
      // The bar fills the track's inner height (the baseline is its bottom border).
      const inner = track.clientHeight;
      return {
        digit: (item as HTMLElement).dataset.digit ?? '',
        probability: Number((item as HTMLElement).dataset.probability),
        x: box.x + box.width / 2,
        top: box.y,
        inner,
      };
    }),
  );
  const png = await page.screenshot({ clip: chart, animations: 'disabled' });
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const scale = info.width / chart.width;
  return columns.map(({ digit, probability, x, top, inner }) => {
    const px = Math.round((x - chart.x) * scale);
    let painted = 0;
    for (let y = Math.round((top - chart.y) * scale); y < Math.round((top - chart.y + inner) * scale); y++) {
      const i = (y * info.width + px) * 3;
      if (255 - Math.min(data[i], data[i + 1], data[i + 2]) > 6) painted++;
    }
    return { digit, probability, painted: painted / scale, expected: probability * inner };
  });
}
