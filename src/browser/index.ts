/**
 * The package's browser entry (`import { digitReader } from 'mnist-cnn/browser'`): the one-call
 * digit reader, with the same shape and answers as the Node entry's, running the model with
 * TensorFlow.js in the page. Browser-safe: nothing here or below imports Node's modules, sharp,
 * ONNX Runtime or Fastify (.dependency-cruiser.cjs holds the line). scripts/build-page.mjs
 * bundles it, TensorFlow.js included, into dist/browser/mnist-cnn.js. Recorded in
 * api/mnist-cnn-browser.api.md, like the Node entry.
 */

/** @public */
export {
  digitReader,
  type BrowserDigitReader as DigitReader,
  type BrowserDigitReaderOptions as DigitReaderOptions,
  type BrowserDigitInput as DigitInput,
} from './digit-reader.js';
/** @public */
export type { Drawable } from './pictures.js';
/** @public */
export type { ImageDataLike } from '../predict/reader-input.js';
/** @public */
export { DEFAULT_MIN_CONFIDENCE, type Prediction } from '../predict/interpret.js';
