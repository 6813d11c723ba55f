/**
 * One call to read digits, shaped like transformers.js's `pipeline`: make a reader once (it
 * loads the model and starts its runtime), then call it with pictures. It is a thin shell over
 * the one inference path (Predictor): the same decoding, the model's own preprocessing spec,
 * temperature and answer rule, so it answers exactly as `mnist-cnn predict` does for the same
 * file. The browser's reader (`mnist-cnn/browser`, src/browser/) has the same shape.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { RuntimeName } from '../backend/names.js';
import { decodeImage } from '../image/decode.js';
import type { Preprocessed } from '../image/preprocess.js';
import { DEFAULT_SHIPPED_MODEL, shippedModelDir } from '../model/shipped.js';
import { UserError } from '../util/errors.js';
import type { Prediction } from './interpret.js';
import { Predictor } from './predictor.js';
import {
  bytesKind,
  describeInput,
  isImageDataLike,
  preprocessInput,
  rawImageOf,
  type ImageDataLike,
} from './reader-input.js';

/**
 * A picture of one digit:
 * - a file path, or a `file:`, `http:`, `https:` or `data:` URL (string or URL) of an image file;
 * - an image file's bytes (Buffer or Uint8Array: PNG, JPEG, WebP, BMP, GIF, TIFF, AVIF, told
 *   from their first bytes);
 * - 784 bytes that are no image file: a 28x28 picture already in MNIST form (white on black,
 *   row by row), as in the IDX files and Kaggle's CSVs;
 * - decoded pixels, `{data, width, height}` (RGBA like a browser's ImageData, or 1 to 3 bytes per pixel).
 */
export type DigitInput = string | URL | Uint8Array | ImageDataLike;

export interface DigitReaderOptions {
  /**
   * The model: the name of a model shipped in the package (`'default'`), or a run folder made by
   * `mnist-cnn train` (its metadata.json brings the preprocessing, temperature and not-a-digit
   * rule). Default: the shipped `default` model.
   */
  model?: string;
  /** Below this confidence the answer is `digit: null` (reason 'low confidence ...') rather than a likely wrong digit. Default 0.5. */
  minConfidence?: number;
  /** What runs the model: `onnx` (default; ONNX Runtime, falling back to `tfjs` where it does not load) or `tfjs`. */
  runtime?: RuntimeName;
  /** Threads that share each model call (default 1). */
  threads?: number;
}

/** Reads digits: call it with one picture for one answer, or with an array for an array of answers (one model call). */
export interface DigitReader {
  (input: DigitInput): Promise<Prediction>;
  (inputs: readonly DigitInput[]): Promise<Prediction[]>;
  /** The run folder the model was loaded from. */
  readonly model: string;
  /** What runs the model: the runtime asked for, or `tfjs` after a fallback. */
  readonly runtime: RuntimeName;
  /** Stop the model's threads and free it; the reader refuses pictures afterwards. */
  close(): Promise<void>;
}

/**
 * Load a model and return a function that reads digits with it.
 *
 * @example
 * ```ts
 * import { digitReader } from 'mnist-cnn';
 *
 * const read = await digitReader(); // the model shipped in the package
 * const answer = await read('my-digit.png');
 * // { digit: 7, confidence: 0.998, probabilities: [...ten...], notADigit: 0.0003 }
 * const answers = await read(['a.png', pngBuffer, 'https://example.com/b.jpg']);
 * const refused = await read('photo-of-a-cat.jpg'); // { digit: null, reason: 'not a digit (...)', ... }
 * await read.close();
 * ```
 *
 * @example A run of your own, stricter about confidence, on ONNX Runtime's threads:
 * ```ts
 * const read = await digitReader({ model: 'runs/latest', minConfidence: 0.9, threads: 2 });
 * ```
 */
export async function digitReader(options: DigitReaderOptions = {}): Promise<DigitReader> {
  // Not the name 'default' when none is given: a folder of that name where the program runs must not shadow the shipped model.
  const model = options.model ?? shippedModelDir(DEFAULT_SHIPPED_MODEL);
  // quickStart, as `mnist-cnn predict`: a release (the shipped model) runs its exported ONNX file without loading TensorFlow.js.
  const predictor = await Predictor.load(model, {
    runtime: options.runtime,
    threads: options.threads,
    minConfidence: options.minConfidence,
    quickStart: true,
  });
  let closed = false;

  async function toInput(input: DigitInput, index?: number): Promise<Preprocessed> {
    const what = describeInput(input, index);
    if (typeof input === 'string' || input instanceof URL) {
      const bytes = await readSource(input);
      return predictor.preprocess(await decodeImage(bytes, what));
    }
    if (input instanceof Uint8Array) {
      if (bytesKind(input, predictor.spec, what) === 'pixels')
        return preprocessInput({ pixels: input }, predictor.spec);
      return predictor.preprocess(await decodeImage(input, what));
    }
    if (isImageDataLike(input)) return predictor.preprocess(rawImageOf(input, what));
    throw new UserError(
      `${what}: not a picture (give a path, a URL, image file bytes, 784 MNIST-form pixels or {data, width, height})`,
    );
  }

  async function read(input: DigitInput | readonly DigitInput[]): Promise<Prediction | Prediction[]> {
    if (closed) throw new UserError('this digit reader is closed');
    if (!Array.isArray(input)) return (await predictor.predict([await toInput(input as DigitInput)]))[0];
    const inputs: Preprocessed[] = [];
    for (const [index, one] of (input as readonly DigitInput[]).entries()) inputs.push(await toInput(one, index));
    return predictor.predict(inputs);
  }

  return Object.assign(read as DigitReader, {
    model: predictor.dir,
    runtime: predictor.runtime,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await predictor.close();
    },
  });
}

/** A path or URL → the file's bytes; a clear error naming it when it cannot be had. */
async function readSource(source: string | URL): Promise<Uint8Array> {
  const url =
    source instanceof URL ? source : /^([a-z][a-z0-9+.-]*:\/\/|data:)/i.test(source) ? new URL(source) : undefined;
  const name = url?.protocol === 'data:' ? 'a data: URL' : String(source);
  if (url && url.protocol !== 'file:') {
    if (!['http:', 'https:', 'data:'].includes(url.protocol))
      throw new UserError(`${name}: only file:, http:, https: and data: URLs are read`);
    let response: Response;
    try {
      response = await fetch(url);
    } catch (err) {
      throw new UserError(
        `${name}: cannot be fetched (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message})`,
      );
    }
    if (!response.ok) throw new UserError(`${name}: the server answered HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }
  const path = url ? fileURLToPath(url) : (source as string);
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(
      `${name}: ${code === 'ENOENT' ? 'file not found' : `cannot be read (${code ?? (err as Error).message})`}`,
      path,
    );
  }
}
