import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  catmullRom,
  drawHandDigit,
  drawHandRoundLetter,
  handPlacement,
  handRoundLetters,
} from '../../src/image/hand-glyphs.js';
import { InkCanvas } from '../../src/image/ink-canvas.js';
import { connectedComponents } from '../../src/image/pixel-ops.js';
import { createRng } from '../../src/util/rng.js';

test('a Catmull-Rom curve passes through its points, and two points stay a line', () => {
  const points = [
    { x: 0, y: 0 },
    { x: 10, y: 5 },
    { x: 20, y: 0 },
    { x: 30, y: 10 },
  ];
  const curve = catmullRom(points, 4);
  assert.equal(curve.length, 1 + 3 * 4);
  for (const [k, p] of points.entries()) assert.deepEqual(curve[k * 4], p);
  assert.deepEqual(catmullRom(points.slice(0, 2)), points.slice(0, 2));
});

/** Ink (> 0.5) bounding box and components of a glyph drawn in a 100x140 box at (50, 30) on a 200x200 canvas. */
function drawn(draw: (canvas: InkCanvas) => void) {
  const canvas = new InkCanvas(200, 200);
  draw(canvas);
  const { components } = connectedComponents({ data: canvas.ink, width: 200, height: 200 }, 0.5);
  const xs = components.flatMap((c) => [c.minX, c.maxX]);
  const ys = components.flatMap((c) => [c.minY, c.maxY]);
  return { components, box: { x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys), y1: Math.max(...ys) } };
}

test('every hand-drawn digit and round letter is one piece of ink filling most of its box, wherever the writer puts it', () => {
  const rng = createRng(2);
  const box = { x: 50, y: 30, w: 100, h: 140 };
  const glyphs = [
    ...Array.from({ length: 10 }, (_, d) => ({
      name: String(d),
      draw: (c: InkCanvas) => drawHandDigit(c, d, handPlacement(rng, box), rng, 6),
    })),
    ...handRoundLetters('test').map((letter) => ({
      name: letter,
      draw: (c: InkCanvas) => drawHandRoundLetter(c, letter, handPlacement(rng, box), rng, 6),
    })),
  ];
  for (const { name, draw } of glyphs) {
    const { components, box: ink } = drawn(draw);
    // (A drawn 4, 5 or 9 is two strokes that touch; n and h, m and u too.)
    assert.equal(components.filter((c) => c.area > 20).length, 1, `${name}: ${components.length} pieces`);
    assert.ok(ink.y1 - ink.y0 > 0.7 * box.h, `${name} is ${ink.y1 - ink.y0} tall`);
    assert.ok(
      ink.x0 > 20 && ink.x1 < 180 && ink.y0 > 0 && ink.y1 < 199,
      `${name} stays near its box: ${JSON.stringify(ink)}`,
    );
  }
  assert.throws(
    () => drawHandRoundLetter(new InkCanvas(10, 10), 'O', handPlacement(rng, box), rng, 1),
    /no hand-drawn round letter 'O'/,
  );
});
