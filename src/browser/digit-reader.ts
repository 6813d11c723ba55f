/**
 * The one-call digit reader in a browser: the same shape and the same answers as the Node
 * reader (src/predict/digit-reader.ts), with the model fetched over HTTP and run by
 * TensorFlow.js. Every step is the project's own shared code: the preprocessing
 * (image/preprocess.ts, with the spec the run recorded), the calibration temperature
 * (metrics/calibration.ts) and the answer rule (predict/interpret.ts), through answer.ts, which
 * the draw-a-digit page's in-browser mode answers with too.
 */
import type { Preprocessed } from '../image/preprocess.js';
import type { Prediction } from '../predict/interpret.js';
import {
  bytesKind,
  describeInput,
  isImageDataLike,
  preprocessInput,
  rawImageOf,
  type ImageDataLike,
} from '../predict/reader-input.js';
import { answerWith, settingsOf, type ModelMetadata } from './answer.js';
import { loadBrowserModel, type BrowserModel } from './model.js';
import { decodePicture, pixelsOf, rawImageOfImageData, type Drawable } from './pictures.js';

/** The package's own model, beside this module's folder in dist/ (or src/). */
const SHIPPED_MODEL = '../../models/default/model.json';

/**
 * A picture of one digit, in a browser:
 * - a URL (string, relative to the page, or URL) of an image file;
 * - a Blob or File of an image file, or an image file's bytes (Uint8Array);
 * - an <img> (loaded, or loading), <canvas>, OffscreenCanvas, ImageBitmap or <video> frame;
 * - ImageData, or any `{data, width, height}` of decoded pixels;
 * - 784 bytes that are no image file: a 28x28 picture already in MNIST form (white on black).
 */
export type BrowserDigitInput = string | URL | Blob | Uint8Array | ImageData | ImageDataLike | Drawable;

export interface BrowserDigitReaderOptions {
  /**
   * The URL of the model's model.json (TensorFlow.js layers format, weights beside it), with the
   * run's metadata.json beside it too: it gives the preprocessing spec, the calibration
   * temperature and the not-a-digit rule. Relative URLs are resolved against the page. Default:
   * the model shipped in the package (models/default/, found relative to this module).
   */
  model?: string | URL;
  /** Below this confidence the answer is `digit: null` (reason 'low confidence ...'). Default 0.5. */
  minConfidence?: number;
}

/** Reads digits: one picture gives one answer, an array of pictures an array of answers. */
export interface BrowserDigitReader {
  (input: BrowserDigitInput): Promise<Prediction>;
  (inputs: readonly BrowserDigitInput[]): Promise<Prediction[]>;
  /** The model.json the model was loaded from. */
  readonly model: string;
  /** Free the model; the reader refuses pictures afterwards. */
  close(): Promise<void>;
}

async function fetchOk(url: URL, what: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(`${what}: cannot be fetched (${(err as Error).message})`, { cause: err });
  }
  if (!response.ok) throw new Error(`${what}: the server answered HTTP ${response.status}`);
  return response;
}

/** A model.json URL → the model and its run's metadata.json (beside it). */
export async function loadModelWithMetadata(modelUrl: URL): Promise<{ model: BrowserModel; metadata: ModelMetadata }> {
  const metadataUrl = new URL('metadata.json', modelUrl);
  const metadataResponse = await fetchOk(
    metadataUrl,
    `${metadataUrl.href} (the run's metadata.json, beside model.json)`,
  );
  let metadata: ModelMetadata;
  try {
    metadata = (await metadataResponse.json()) as ModelMetadata;
  } catch (err) {
    throw new Error(`${metadataUrl.href}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  return { model: await loadBrowserModel(modelUrl.href), metadata };
}

function isDrawable(input: unknown): input is Drawable {
  const kinds = [
    'HTMLImageElement',
    'HTMLCanvasElement',
    'OffscreenCanvas',
    'ImageBitmap',
    'HTMLVideoElement',
    'SVGImageElement',
    'VideoFrame',
  ] as const;
  return kinds.some(
    (kind) =>
      typeof globalThis[kind as keyof typeof globalThis] === 'function' &&
      input instanceof (globalThis[kind as keyof typeof globalThis] as new () => unknown),
  );
}

/**
 * Load a model and return a function that reads digits with it, in a browser.
 *
 * @example
 * ```ts
 * import { digitReader } from 'mnist-cnn/browser';
 *
 * const read = await digitReader(); // the model shipped in the package, fetched beside this module
 * const answer = await read(document.querySelector('canvas')!);
 * // { digit: 7, confidence: 0.998, probabilities: [...ten...], notADigit: 0.0003 }
 * const answers = await read(['digits/1.png', fileInput.files![0]]);
 * ```
 *
 * @example A model on your own host (metadata.json beside model.json):
 * ```ts
 * const read = await digitReader({ model: 'https://example.com/models/mine/model.json', minConfidence: 0.8 });
 * ```
 */
export async function digitReader(options: BrowserDigitReaderOptions = {}): Promise<BrowserDigitReader> {
  const base = typeof document !== 'undefined' ? document.baseURI : globalThis.location?.href;
  const modelUrl = options.model === undefined ? new URL(SHIPPED_MODEL, import.meta.url) : new URL(options.model, base);
  const { model, metadata } = await loadModelWithMetadata(modelUrl);
  const settings = settingsOf(metadata, options.minConfidence, new URL('metadata.json', modelUrl).href);
  const { spec } = settings;
  let closed = false;

  async function toInput(input: BrowserDigitInput, index?: number): Promise<Preprocessed> {
    const what = describeInput(input, index);
    if (typeof input === 'string' || input instanceof URL) {
      const url = new URL(input, base);
      const blob = await (await fetchOk(url, what)).blob();
      return preprocessInput({ image: rawImageOfImageData(await decodeOnce(blob, what)) }, spec);
    }
    if (input instanceof Blob)
      return preprocessInput({ image: rawImageOfImageData(await decodeOnce(input, what)) }, spec);
    if (input instanceof Uint8Array) {
      if (bytesKind(input, spec, what) === 'pixels') return preprocessInput({ pixels: input }, spec);
      return preprocessInput(
        { image: rawImageOfImageData(await decodeOnce(new Blob([new Uint8Array(input)]), what)) },
        spec,
      );
    }
    if (isImageDataLike(input)) return preprocessInput({ image: rawImageOf(input, what) }, spec);
    if (isDrawable(input)) {
      // An <img> still loading is waited for (decode() rejects for one that cannot load).
      if (typeof HTMLImageElement !== 'undefined' && input instanceof HTMLImageElement && !input.complete) {
        await input.decode().catch(() => {
          throw new Error(`${input.currentSrc || input.src || what}: the image cannot be loaded`);
        });
      }
      return preprocessInput({ image: rawImageOfImageData(pixelsOf(input, what)) }, spec);
    }
    throw new Error(
      `${what}: not a picture (give a URL, a Blob, an <img>, a canvas, an ImageBitmap, ImageData, image file bytes or 784 MNIST-form pixels)`,
    );
  }

  async function read(input: BrowserDigitInput | readonly BrowserDigitInput[]): Promise<Prediction | Prediction[]> {
    if (closed) throw new Error('this digit reader is closed');
    if (!Array.isArray(input)) return answerWith(model, settings, await toInput(input as BrowserDigitInput));
    const answers: Prediction[] = [];
    for (const [index, one] of (input as readonly BrowserDigitInput[]).entries())
      answers.push(answerWith(model, settings, await toInput(one, index)));
    return answers;
  }

  return Object.assign(read as BrowserDigitReader, {
    model: modelUrl.href,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      model.dispose();
    },
  });
}

/** A Blob → its pixels, the bitmap closed at once. */
async function decodeOnce(blob: Blob, what: string): Promise<ImageData> {
  const { bitmap, pixels } = await decodePicture(blob, what);
  bitmap.close();
  return pixels;
}
