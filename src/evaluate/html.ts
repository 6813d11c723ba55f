/** Small HTML pieces of the report (report.ts, report-trust.ts): tables and inline pictures. */
import { escapeMarkup } from '../util/markup.js';
import { PNG_SCALE } from './picture.js';

/** A table of text cells (escaped). */
export function table(header: string[], rows: (string | number)[][], className = ''): string {
  const head = header.map((h) => `<th>${escapeMarkup(h)}</th>`).join('');
  const body = rows
    .map((row) => `<tr>${row.map((cell) => `<td>${escapeMarkup(String(cell))}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table class="${className}"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** A PNG (rendered at PNG_SCALE) inline as a data URI, shown at its SVG's size. */
export function pngFigure(png: Buffer, alt: string): string {
  const width = png.readUInt32BE(16) / PNG_SCALE;
  return `<figure><img alt="${escapeMarkup(alt)}" width="${width}" src="data:image/png;base64,${png.toString('base64')}"></figure>`;
}
