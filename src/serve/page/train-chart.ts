/**
 * The Train panel's curves: a line chart on a canvas, epochs across, one series per set
 * (training: every step, drawn smoothed over the raw values; validation and test: a point per
 * check). Redrawn at most four times a second, however often values come.
 *
 * Test hooks: the canvas carries, per series, data-<series>-points (how many values) and
 * data-<series>-last (the last value; smoothed for training).
 */

export type SeriesName = 'train' | 'val' | 'test';

const COLOURS: Record<SeriesName, string> = { train: '#0b5cad', val: '#b45309', test: '#15803d' };
const LABELS: Record<SeriesName, string> = { train: 'training', val: 'validation', test: 'test' };
/** Weight of the newest value in the training curve's moving average (about the last 20 steps). */
const SMOOTHING = 0.05;
const MARGIN = { left: 44, right: 10, top: 22, bottom: 24 };
/** Least time between two redraws of a chart. */
const REDRAW_MS = 250;

interface Point {
  x: number;
  y: number;
}

export class TrainChart {
  private readonly raw: Record<SeriesName, Point[]> = { train: [], val: [], test: [] };
  /** The training series' moving average, bias-corrected (as Adam's): no slow start from 0. */
  private readonly smoothed: Point[] = [];
  private average = 0;
  private weight = 0;
  private xMax = 1;
  private pending = false;
  private drawnAt = -Infinity;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly kind: 'loss' | 'accuracy',
  ) {}

  /** Forget every value; `epochs` across. */
  reset(epochs: number): void {
    for (const series of Object.values(this.raw)) series.length = 0;
    this.smoothed.length = 0;
    this.average = 0;
    this.weight = 0;
    this.xMax = epochs;
    for (const series of ['train', 'val', 'test'] as const) this.mark(series);
    this.redraw();
  }

  add(series: SeriesName, x: number, y: number): void {
    if (!Number.isFinite(y)) return;
    this.raw[series].push({ x, y });
    if (series === 'train') {
      this.average = this.average * (1 - SMOOTHING) + y * SMOOTHING;
      this.weight = this.weight * (1 - SMOOTHING) + SMOOTHING;
      this.smoothed.push({ x, y: this.average / this.weight });
    }
    this.mark(series);
    this.redraw();
  }

  private mark(series: SeriesName): void {
    const values = series === 'train' ? this.smoothed : this.raw[series];
    this.canvas.dataset[`${series}Points`] = String(values.length);
    this.canvas.dataset[`${series}Last`] = values.length ? String(values[values.length - 1].y) : '';
  }

  /**
   * At most one redraw every REDRAW_MS, in an animation frame: values come at every step, and
   * the page's main thread stays free for drawing digits (training runs in workers, but on the
   * same cores).
   */
  private redraw(): void {
    if (this.pending) return;
    this.pending = true;
    setTimeout(
      () =>
        requestAnimationFrame(() => {
          this.pending = false;
          this.drawnAt = performance.now();
          this.draw();
        }),
      Math.max(0, this.drawnAt + REDRAW_MS - performance.now()),
    );
  }

  /** The y range shown: loss from 0 to the highest smoothed value after the first steps; accuracy from a floor under the values to 1. */
  private range(): [number, number] {
    const shown = [
      ...this.smoothed.slice(Math.floor(this.smoothed.length * 0.05)),
      ...this.raw.val,
      ...this.raw.test,
    ].map((p) => p.y);
    if (this.kind === 'loss') return [0, Math.max(0.1, ...shown) * 1.05];
    const low = Math.min(0.9, ...shown);
    return [Math.max(0, Math.floor(low * 20) / 20), 1];
  }

  private draw(): void {
    const { canvas } = this;
    const context = canvas.getContext('2d');
    if (!context) return;
    const { width, height } = canvas;
    const [lo, hi] = this.range();
    const px = (x: number) => MARGIN.left + (x / this.xMax) * (width - MARGIN.left - MARGIN.right);
    const py = (y: number) => height - MARGIN.bottom - ((y - lo) / (hi - lo)) * (height - MARGIN.top - MARGIN.bottom);
    context.clearRect(0, 0, width, height);
    context.font = '11px system-ui, sans-serif';
    context.lineWidth = 1;
    // Axes and grid: five levels up, one line per epoch (or per quarter when one epoch).
    context.strokeStyle = '#d0d7de';
    context.fillStyle = '#57606a';
    context.textAlign = 'right';
    context.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const y = lo + ((hi - lo) * i) / 4;
      context.beginPath();
      context.moveTo(MARGIN.left, py(y));
      context.lineTo(width - MARGIN.right, py(y));
      context.stroke();
      context.fillText(this.kind === 'loss' ? y.toFixed(2) : `${(y * 100).toFixed(0)}%`, MARGIN.left - 4, py(y));
    }
    context.textAlign = 'center';
    context.textBaseline = 'top';
    const tick = this.xMax <= 1 ? 0.25 : this.xMax <= 10 ? 1 : Math.ceil(this.xMax / 10);
    for (let x = 0; x <= this.xMax + 1e-9; x += tick)
      context.fillText(String(+x.toFixed(2)), px(x), height - MARGIN.bottom + 4);
    context.textAlign = 'left';
    context.fillText('epoch', width - MARGIN.right - 30, height - 12);

    const line = (points: Point[], colour: string, alpha: number, width: number) => {
      if (points.length === 0) return;
      context.globalAlpha = alpha;
      context.strokeStyle = colour;
      context.lineWidth = width;
      context.beginPath();
      points.forEach((p, i) =>
        i === 0
          ? context.moveTo(px(p.x), py(Math.min(hi, Math.max(lo, p.y))))
          : context.lineTo(px(p.x), py(Math.min(hi, Math.max(lo, p.y)))),
      );
      context.stroke();
      context.globalAlpha = 1;
    };
    const dots = (points: Point[], colour: string) => {
      context.fillStyle = colour;
      for (const p of points) {
        context.beginPath();
        context.arc(px(p.x), py(Math.min(hi, Math.max(lo, p.y))), 3, 0, 2 * Math.PI);
        context.fill();
      }
    };
    line(this.raw.train, COLOURS.train, 0.2, 1);
    line(this.smoothed, COLOURS.train, 1, 2);
    for (const series of ['val', 'test'] as const) {
      line(this.raw[series], COLOURS[series], 1, 1.5);
      dots(this.raw[series], COLOURS[series]);
    }
    // Legend: the series that have values.
    let x = MARGIN.left;
    context.textBaseline = 'top';
    for (const series of ['train', 'val', 'test'] as const) {
      if (this.raw[series].length === 0) continue;
      context.fillStyle = COLOURS[series];
      context.fillRect(x, 6, 10, 10);
      context.fillStyle = '#1b1f24';
      context.fillText(LABELS[series], x + 14, 5);
      x += 24 + context.measureText(LABELS[series]).width;
    }
  }
}
