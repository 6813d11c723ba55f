/**
 * The model-input contract: what every model of this project takes as input, and the last step
 * that turns the 28x28 white-on-black bytes of MNIST into those values. Training (the batch
 * filler), prediction (image/preprocess.ts, the page) and every saved model's metadata.json
 * use this one definition; a run records its spec, and inference reads it back from there.
 */

/** What a model expects; saved in every model's metadata.json. */
export interface PreprocessSpec {
  /** Input side in pixels (28). */
  size: number;
  /** The ink is scaled to fit a box of this side, aspect kept (20, as the MNIST builders did). */
  fit: number;
  /** How the ink is placed in the input: by its centre of mass, as MNIST. */
  centre: 'mass';
  /** White ink on black, as MNIST. */
  polarity: 'white-on-black';
  /** model input = pixel (0..255) * scale + offset. */
  scale: number;
  offset: number;
}

export const PREPROCESS_SPEC: PreprocessSpec = {
  size: 28,
  fit: 20,
  centre: 'mass',
  polarity: 'white-on-black',
  scale: 1 / 255,
  offset: 0,
};

/**
 * The last step, the one that training applies to MNIST images: bytes 0..255 of a 28x28
 * white-on-black image → the model's input values. `out` may be a slice of a batch buffer.
 */
export function scalePixels(
  pixels: ArrayLike<number>,
  out: Float32Array = new Float32Array(pixels.length),
  spec: PreprocessSpec = PREPROCESS_SPEC,
): Float32Array {
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i] * spec.scale + spec.offset;
  return out;
}
