/**
 * Drawing on the draw-a-digit page in Chromium (playwright-core), and reading what it shows:
 * shared by the served page's test and the static site's.
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';

type Stroke = [number, number][];

export const ONE: Stroke[] = [[[140, 50], [140, 230]]];
export const SEVEN: Stroke[] = [[[75, 65], [205, 65], [115, 235]]];
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
