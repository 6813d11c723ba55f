/**
 * The corrections folder, as the page, the server and `predict --label` write it and `finetune`
 * reads it: one class folder per answer a person can give (`0/` .. `9/`, the class folders
 * `evaluate --data` and `predict` read, and `not-a-digit/`), each correction a 28x28 PNG of what
 * the model saw, named by the hash of its bytes (so the same picture is one file however often it
 * is sent), and beside them under `drawn/<label>/` the picture as it was drawn or photographed,
 * under the same name, for a person to look at:
 *
 *   corrections/7/3f9c0a1e5b2d4c68.png          the model's input, 28x28, white on black
 *   corrections/drawn/7/3f9c0a1e5b2d4c68.png    the pad's drawing (or the photo) it came from
 *   corrections/not-a-digit/0c4e...png
 *
 * Plain TypeScript (the page bundles it: its in-browser corrections go into a zip of this layout).
 */
import { sha256Hex } from '../util/digests.js';
import { encodeGrayPng } from './png-file.js';
import { IMAGE_SIZE, NOT_A_DIGIT, PIXELS } from './types.js';

/** The answers a correction can give: a digit, or "not a digit". Each is a folder of the same name. */
export const CORRECTION_LABELS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'not-a-digit'] as const;
export type CorrectionLabel = (typeof CORRECTION_LABELS)[number];

/** Where the pictures as drawn go, beside the class folders. */
export const DRAWN_FOLDER = 'drawn';

/** The class folders and the class each trains as (a digit, or the model's "not a digit" output). */
export const CORRECTION_CLASS_FOLDERS: Readonly<Record<string, number>> = Object.fromEntries(
  CORRECTION_LABELS.map((label, k) => [label, k < 10 ? k : NOT_A_DIGIT]),
);

/** Extensions a drawn picture may be kept under (the formats decoding reads). */
const DRAWN_EXTENSIONS = ['png', 'jpg', 'webp', 'bmp', 'gif', 'tif', 'heif'] as const;
export type DrawnExtension = (typeof DRAWN_EXTENSIONS)[number];

/** A correction's file name: the first 16 hex digits of the SHA-256 of its 28x28 PNG. */
const NAME = /^[0-9a-f]{16}$/;

function isCorrectionLabel(value: unknown): value is CorrectionLabel {
  return typeof value === 'string' && (CORRECTION_LABELS as readonly string[]).includes(value);
}

/** A file of a correction, by its path inside the corrections folder (`/` between folders). */
interface CorrectionEntry {
  path: string;
  bytes: Uint8Array;
}

export interface Correction {
  label: CorrectionLabel;
  /** The name both files share (16 hex digits, no extension). */
  name: string;
  /** The 28x28 PNG of what the model saw, at `<label>/<name>.png`. */
  input: CorrectionEntry;
  /** The picture as drawn, at `drawn/<label>/<name>.<ext>`, when there is one. */
  drawn?: CorrectionEntry;
}

/** Whether a file name is one a correction of this layout has (`<16 hex>.png`, or a drawn extension). */
export function isCorrectionFileName(file: string, drawn = false): boolean {
  const dot = file.lastIndexOf('.');
  const ext = file.slice(dot + 1);
  return (
    dot > 0 &&
    NAME.test(file.slice(0, dot)) &&
    (drawn ? (DRAWN_EXTENSIONS as readonly string[]).includes(ext) : ext === 'png')
  );
}

/**
 * The files of one correction: `pixels`, the 28x28 bytes the model saw (white on black), as a
 * PNG named by its hash, and the picture as drawn (its file's bytes and extension), if given.
 */
export function makeCorrection(
  label: CorrectionLabel,
  pixels: Uint8Array,
  drawn?: { bytes: Uint8Array; ext: DrawnExtension },
): Correction {
  if (!isCorrectionLabel(label))
    throw new RangeError(`${JSON.stringify(label)} is not a correction label (${CORRECTION_LABELS.join(', ')})`);
  if (pixels.length !== PIXELS) throw new RangeError(`a correction is ${PIXELS} pixels (28x28), got ${pixels.length}`);
  const bytes = encodeGrayPng(pixels, IMAGE_SIZE, IMAGE_SIZE);
  const name = sha256Hex(bytes).slice(0, 16);
  const correction: Correction = { label, name, input: { path: `${label}/${name}.png`, bytes } };
  if (drawn) {
    if (!(DRAWN_EXTENSIONS as readonly string[]).includes(drawn.ext))
      throw new RangeError(
        `a drawn picture's extension is one of ${DRAWN_EXTENSIONS.join(', ')}, got ${JSON.stringify(drawn.ext)}`,
      );
    correction.drawn = { path: `${DRAWN_FOLDER}/${label}/${name}.${drawn.ext}`, bytes: drawn.bytes };
  }
  return correction;
}
