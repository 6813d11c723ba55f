/**
 * Pictures like the ones people feed in, made in the test itself: digits rendered from the
 * installed fonts (sharp renders SVG text through fontconfig), MNIST digits put through the
 * distortions of a phone photo or a scan. Shared by the tests and bench/predict-kinds.ts.
 */
import sharp, { type Sharp } from 'sharp';
import { type Rng } from '../../src/util/rng.js';
import type { RawImage } from '../../src/image/preprocess.js';

/** Fonts of the Debian packages fonts-dejavu-core and fonts-liberation. */
export const FONTS = [
  { family: 'DejaVu Sans', weight: 'normal' },
  { family: 'DejaVu Sans', weight: 'bold' },
  { family: 'DejaVu Serif', weight: 'normal' },
  { family: 'DejaVu Sans Mono', weight: 'normal' },
  { family: 'Liberation Sans', weight: 'normal' },
  { family: 'Liberation Serif', weight: 'normal' },
  { family: 'Liberation Mono', weight: 'bold' },
] as const;

export type Font = (typeof FONTS)[number];

export interface TextPicture {
  text: string;
  font: Font;
  width: number;
  height: number;
  /** Font size in pixels. */
  size: number;
  /** Baseline-centre of the text, in pixels. */
  x?: number;
  y?: number;
  ink: string;
  /** 'none': transparent background. */
  paper: string;
  /** Extra space between letters in pixels; negative makes them touch. */
  letterSpacing?: number;
}

/** An SVG of the text, rasterised by sharp (librsvg + fontconfig), as RGBA pixels. */
export async function renderText(p: TextPicture): Promise<RawImage> {
  const x = p.x ?? p.width / 2;
  const y = p.y ?? p.height / 2 + p.size * 0.36;
  const paper = p.paper === 'none' ? '' : `<rect width="100%" height="100%" fill="${p.paper}"/>`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${p.width}" height="${p.height}">${paper}<text x="${x}" y="${y}" font-family="${p.font.family}" font-weight="${p.font.weight}" font-size="${p.size}" fill="${p.ink}" text-anchor="middle"${p.letterSpacing === undefined ? '' : ` letter-spacing="${p.letterSpacing}"`}>${p.text}</text></svg>`;
  return toRaw(sharp(Buffer.from(svg)).ensureAlpha());
}

async function toRaw(image: Sharp): Promise<RawImage> {
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels };
}

function sharpOf(image: RawImage): Sharp {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } });
}

export async function encodePng(image: RawImage): Promise<Uint8Array> {
  return new Uint8Array(await sharpOf(image).png().toBuffer());
}

async function encodeJpeg(image: RawImage, quality = 70): Promise<Uint8Array> {
  return new Uint8Array(await sharpOf(image).flatten({ background: '#ffffff' }).jpeg({ quality }).toBuffer());
}

/** Luma of any RawImage (alpha ignored: for pictures with an opaque background). */
export function grayOf(image: RawImage): Uint8Array {
  const out = new Uint8Array(image.width * image.height);
  for (let i = 0; i < out.length; i++) {
    const p = i * image.channels;
    out[i] =
      image.channels >= 3
        ? Math.round(0.299 * image.data[p] + 0.587 * image.data[p + 1] + 0.114 * image.data[p + 2])
        : image.data[p];
  }
  return out;
}

/** An MNIST digit (28x28 white on black) enlarged smoothly to `side`, as people's scans are. */
export async function upscaleMnist(pixels: Uint8Array, side: number): Promise<RawImage> {
  const image = sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } }).resize(side, side, { kernel: 'cubic' });
  return toRaw(image.toColourspace('b-w'));
}

export function invertGray(image: RawImage): RawImage {
  return { ...image, data: image.data.map((v) => 255 - v) };
}

/**
 * What a phone photo of ink on paper looks like: light falling off across the page (from
 * `dark` to 1 along a random direction, multiplying paper and ink alike), ink that reflects a
 * little light rather than none, sensor noise, a little blur. Input: a grayscale ink-on-white
 * picture (ink dark).
 */
export async function photoLike(
  inkOnWhite: RawImage,
  rng: Rng,
  options: { dark?: number; paper?: number; ink?: number; noise?: number } = {},
): Promise<RawImage> {
  const dark = options.dark ?? 0.5;
  const paperLevel = options.paper ?? 235;
  const inkLevel = options.ink ?? 40;
  const noise = options.noise ?? 6;
  const gray = grayOf(inkOnWhite);
  const { width, height } = inkOnWhite;
  const angle = rng.next() * 2 * Math.PI;
  const [dx, dy] = [Math.cos(angle), Math.sin(angle)];
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = 0.5 + 0.7 * ((x / width - 0.5) * dx + (y / height - 0.5) * dy);
      const light = dark + (1 - dark) * Math.min(1, Math.max(0, t));
      const inkness = 1 - gray[y * width + x] / 255;
      const v = light * (paperLevel * (1 - inkness) + inkLevel * inkness) + noise * rng.normal();
      out[y * width + x] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  const blurred = await sharp(out, { raw: { width, height, channels: 1 } })
    .blur(0.8)
    .extractChannel(0)
    .raw()
    .toBuffer();
  return { data: new Uint8Array(blurred), width, height, channels: 1 };
}

/** Paste a picture into a larger canvas of `background` at (left, top). */
async function placeOnCanvas(
  image: RawImage,
  width: number,
  height: number,
  left: number,
  top: number,
  background: number,
): Promise<RawImage> {
  const canvas = sharp({
    create: { width, height, channels: 3, background: { r: background, g: background, b: background } },
  });
  const png = await encodePng(image);
  return toRaw(canvas.composite([{ input: Buffer.from(png), left, top }]).toColourspace('b-w'));
}

/** Pearson correlation of two pixel arrays: 1 = same picture up to brightness and contrast. */
export function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return saa === 0 || sbb === 0 ? 0 : sab / Math.sqrt(saa * sbb);
}

/** Correlation of two 28x28 pictures allowing the ±1 pixel a whole-pixel re-centring may differ by. */
export function shiftTolerantCorrelation(a: Uint8Array, b: Uint8Array, side = 28): number {
  let best = -1;
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      const shifted = new Uint8Array(side * side);
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          const sy = y + dy;
          const sx = x + dx;
          if (sy >= 0 && sy < side && sx >= 0 && sx < side) shifted[y * side + x] = a[sy * side + sx];
        }
      }
      best = Math.max(best, correlation(shifted, b));
    }
  }
  return best;
}

// ---------------------------------------------------------------------------- kinds of input

export type Kind =
  | 'mnist-upscaled'
  | 'mnist-inverted'
  | 'mnist-photo'
  | 'mnist-jpeg'
  | 'mnist-small-offcentre'
  | 'printed'
  | 'printed-photo'
  | 'printed-transparent'
  | 'printed-light-on-dark';

export const MNIST_KINDS: Kind[] = [
  'mnist-upscaled',
  'mnist-inverted',
  'mnist-photo',
  'mnist-jpeg',
  'mnist-small-offcentre',
];
export const PRINTED_KINDS: Kind[] = ['printed', 'printed-photo', 'printed-transparent', 'printed-light-on-dark'];

export interface Generated {
  kind: Kind;
  label: number;
  /** File name ending that says the encoding: .png or .jpg. */
  ext: '.png' | '.jpg';
  bytes: Uint8Array;
}

/** One MNIST digit (28x28 bytes) as a file of the given kind. */
export async function mnistAs(kind: Kind, pixels: Uint8Array, label: number, rng: Rng): Promise<Generated> {
  const side = 160 + rng.int(160);
  const big = await upscaleMnist(pixels, side);
  switch (kind) {
    case 'mnist-upscaled':
      return { kind, label, ext: '.png', bytes: await encodePng(big) };
    case 'mnist-inverted':
      return { kind, label, ext: '.png', bytes: await encodePng(invertGray(big)) };
    case 'mnist-photo':
      return { kind, label, ext: '.jpg', bytes: await encodeJpeg(await photoLike(invertGray(big), rng), 75) };
    case 'mnist-jpeg':
      return { kind, label, ext: '.jpg', bytes: await encodeJpeg(invertGray(big), 50) };
    case 'mnist-small-offcentre': {
      const small = await upscaleMnist(pixels, 56);
      const canvas = await placeOnCanvas(invertGray(small), 480, 320, 20 + rng.int(380), 20 + rng.int(220), 255);
      return { kind, label, ext: '.png', bytes: await encodePng(canvas) };
    }
    default:
      throw new Error(`${kind} is not an MNIST kind`);
  }
}

/** A printed digit (font from FONTS) as a file of the given kind. */
export async function printedAs(kind: Kind, digit: number, font: Font, rng: Rng): Promise<Generated> {
  const width = 120 + rng.int(200);
  const height = 120 + rng.int(200);
  const size = Math.round(Math.min(width, height) * (0.5 + 0.3 * rng.next()));
  const base = { text: String(digit), font, width, height, size };
  switch (kind) {
    case 'printed':
      return {
        kind,
        label: digit,
        ext: '.png',
        bytes: await encodePng(await renderText({ ...base, ink: 'black', paper: 'white' })),
      };
    case 'printed-photo': {
      const clean = await renderText({ ...base, ink: 'black', paper: 'white' });
      return { kind, label: digit, ext: '.jpg', bytes: await encodeJpeg(await photoLike(clean, rng), 75) };
    }
    case 'printed-transparent':
      return {
        kind,
        label: digit,
        ext: '.png',
        bytes: await encodePng(await renderText({ ...base, ink: rng.next() < 0.5 ? 'black' : 'white', paper: 'none' })),
      };
    case 'printed-light-on-dark':
      return {
        kind,
        label: digit,
        ext: '.png',
        bytes: await encodePng(await renderText({ ...base, ink: '#f0f0f0', paper: '#202830' })),
      };
    default:
      throw new Error(`${kind} is not a printed kind`);
  }
}
