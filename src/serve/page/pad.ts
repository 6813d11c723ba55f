/**
 * The drawing canvas: white ink on an opaque black square, as MNIST digits are, drawn with
 * pointer events so that mouse, pen and finger all work.
 */

/** MNIST strokes are 2-3 px wide in the 20 px box a digit is fitted to: ~20 px on 280 px. */
const BRUSH_WIDTH = 20;
const BACKGROUND = '#000';
const INK = '#fff';

export interface PadEvents {
  /** A stroke began (an uploaded picture on the pad gives way to the drawing). */
  onStrokeStart(): void;
  /** The ink changed during a stroke. */
  onInk(): void;
  /** The pointer went up: the drawing is complete for now. */
  onStrokeEnd(): void;
}

export class DrawingPad {
  private readonly context: CanvasRenderingContext2D;
  private last: { x: number; y: number } | null = null;
  private pointerId: number | null = null;

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly events: PadEvents,
  ) {
    // Read back on every prediction: tell the browser to keep the pixels on the CPU side.
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new Error('this browser cannot draw on a canvas');
    this.context = context;
    this.clear();
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    canvas.addEventListener('pointerup', (e) => this.up(e));
    canvas.addEventListener('pointercancel', (e) => this.up(e));
  }

  clear(): void {
    const { context, canvas } = this;
    context.fillStyle = BACKGROUND;
    context.fillRect(0, 0, canvas.width, canvas.height);
  }

  /** Show a picture (an upload), fitted inside the square with its aspect ratio kept. */
  showPicture(picture: CanvasImageSource & { width: number; height: number }): void {
    this.clear();
    const { canvas } = this;
    const scale = Math.min(canvas.width / picture.width, canvas.height / picture.height);
    const width = picture.width * scale;
    const height = picture.height * scale;
    this.context.drawImage(picture, (canvas.width - width) / 2, (canvas.height - height) / 2, width, height);
  }

  imageData(): ImageData {
    return this.context.getImageData(0, 0, this.canvas.width, this.canvas.height);
  }

  private down(e: PointerEvent): void {
    if (this.pointerId !== null || (e.pointerType === 'mouse' && e.button !== 0)) return;
    e.preventDefault();
    this.pointerId = e.pointerId;
    this.canvas.setPointerCapture(e.pointerId);
    this.events.onStrokeStart();
    const point = this.toCanvas(e);
    this.last = point;
    // A tap is a dot.
    this.segment(point, point);
    this.events.onInk();
  }

  private move(e: PointerEvent): void {
    if (e.pointerId !== this.pointerId || !this.last) return;
    // Coalesced events give the full path of a fast stroke, not only one point per frame.
    const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
    for (const event of events.length ? events : [e]) {
      const point = this.toCanvas(event);
      this.segment(this.last, point);
      this.last = point;
    }
    this.events.onInk();
  }

  private up(e: PointerEvent): void {
    if (e.pointerId !== this.pointerId) return;
    this.pointerId = null;
    this.last = null;
    this.events.onStrokeEnd();
  }

  private segment(from: { x: number; y: number }, to: { x: number; y: number }): void {
    const { context } = this;
    context.strokeStyle = INK;
    context.lineWidth = BRUSH_WIDTH;
    context.lineCap = 'round';
    context.lineJoin = 'round';
    context.beginPath();
    if (from.x === to.x && from.y === to.y) {
      // A tap: Chromium prunes a zero-length line and draws no cap, so the dot is drawn as a disc.
      context.fillStyle = INK;
      context.arc(from.x, from.y, BRUSH_WIDTH / 2, 0, 2 * Math.PI);
      context.fill();
      return;
    }
    context.moveTo(from.x, from.y);
    context.lineTo(to.x, to.y);
    context.stroke();
  }

  /** The canvas may be shown smaller than its 280 pixels (phones): map CSS pixels to canvas pixels. */
  private toCanvas(e: PointerEvent): { x: number; y: number } {
    const box = this.canvas.getBoundingClientRect();
    return {
      x: ((e.clientX - box.left) * this.canvas.width) / box.width,
      y: ((e.clientY - box.top) * this.canvas.height) / box.height,
    };
  }
}
