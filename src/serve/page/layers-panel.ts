/**
 * "Inside the network": the input the model sees, each convolution's maps and the hidden dense
 * layers' values, redrawn for every input while the panel is open. This module is loaded the
 * first time the panel opens: a closed panel costs no code, no request and no computation.
 *
 * Test hooks: the panel body's data-input and data-source say which input and which mode
 * ('server' or 'browser') it shows; each figure carries data-layer, data-input, data-source and
 * data-ink (its non-zero bytes) and data-sum (the sum of its bytes).
 */
import type { ShownView } from '../../browser/model.js';
import { describeShape, mapsImage, type LayerViewJson } from '../../model/layer-views.js';
import { drawRgba } from './picture.js';

export type LayersSource = 'server' | 'browser';

/** The server's base64 views → bytes. */
export function fromServer(views: LayerViewJson[]): ShownView[] {
  return views.map(({ data, ...view }) => ({ ...view, bytes: Uint8Array.from(atob(data), (c) => c.charCodeAt(0)) }));
}

/** Maps are drawn 8 to a row on the page (every grid about as wide as high), a dense layer's values 16 to a row. */
const COLUMNS = { conv: 8, pool: 8, dense: 16 } as const;

export class LayersPanel {
  private shownId = -1;
  private figures = new Map<string, { figure: HTMLElement; canvas: HTMLCanvasElement; caption: HTMLElement }>();

  constructor(private readonly body: HTMLElement) {}

  /** Show the views of input `id` (older inputs than the one shown are dropped). */
  show(id: number, source: LayersSource, pixels: Uint8Array, size: number, views: ShownView[]): void {
    if (id < this.shownId) return;
    this.shownId = id;
    this.build(views);
    const input = this.figures.get('input')!;
    const rgba = new Uint8ClampedArray(size * size * 4);
    pixels.forEach((v, i) => rgba.set([v, v, v, 255], i * 4));
    drawRgba(input.canvas, { width: size, height: size, rgba });
    this.mark(input.figure, id, source, pixels);
    for (const view of views) {
      const shown = this.figures.get(view.layer)!;
      const image = mapsImage(view, { columns: COLUMNS[view.kind] });
      drawRgba(shown.canvas, image);
      const shrunk =
        view.factor > 1 ? `, shown ${view.height}x${view.width} (max of ${view.factor}x${view.factor})` : '';
      shown.caption.textContent = `${view.after ? `${view.after}, ` : ''}${describeShape(view.shape)}${shrunk}; largest ${view.hi.toPrecision(3)}`;
      this.mark(shown.figure, id, source, view.bytes);
    }
    this.body.dataset.input = String(id);
    this.body.dataset.source = source;
  }

  /** No input (cleared): every view blank. */
  clear(id: number): void {
    this.shownId = id;
    for (const { figure, canvas } of this.figures.values()) {
      canvas.getContext('2d')?.clearRect(0, 0, canvas.width, canvas.height);
      this.mark(figure, id, '', new Uint8Array(0));
    }
    this.body.dataset.input = String(id);
  }

  private mark(figure: HTMLElement, id: number, source: string, bytes: Uint8Array): void {
    let ink = 0;
    let sum = 0;
    for (const b of bytes) {
      ink += b > 0 ? 1 : 0;
      sum += b;
    }
    figure.dataset.input = String(id);
    figure.dataset.source = source;
    figure.dataset.ink = String(ink);
    figure.dataset.sum = String(sum);
  }

  /** One figure per view, made again only when the views change (another model). */
  private build(views: ShownView[]): void {
    const names = ['input', ...views.map((v) => v.layer)];
    if (names.length === this.figures.size && names.every((name) => this.figures.has(name))) return;
    this.figures.clear();
    const figure = (name: string, title: string, kind: string) => {
      const element = document.createElement('figure');
      element.className = `layer ${kind}`;
      element.dataset.layer = name;
      const canvas = document.createElement('canvas');
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', title);
      const caption = document.createElement('figcaption');
      const heading = document.createElement('b');
      heading.textContent = title;
      const detail = document.createElement('span');
      caption.append(heading, ' ', detail);
      element.append(canvas, caption);
      this.figures.set(name, { figure: element, canvas, caption: detail });
      return element;
    };
    const input = figure('input', 'input', 'input');
    this.figures.get('input')!.caption.textContent = 'what the model sees, 28x28';
    this.body.replaceChildren(input, ...views.map((view) => figure(view.layer, view.label, view.kind)));
  }
}
