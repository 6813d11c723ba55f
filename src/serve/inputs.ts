/**
 * Request bodies → the model's input: `{pixels}`, `{image}` (base64) and raw image bytes, each
 * through the served model's own preprocessing (the Predictor holds its spec). Bad input is an
 * ApiError naming what is wrong and where (`items[3].pixels[7] is 300`).
 */
import { PIXELS } from '../data/types.js';
import type { Preprocessed } from '../image/preprocess.js';
import type { Predictor } from '../predict/predictor.js';
import { UserError } from '../util/errors.js';
import { ApiError } from './errors.js';

export type JsonItem = { pixels: number[] } | { image: string };

/** {pixels: [...]} → MNIST-form input; count and range checked (422). */
function fromPixels(predictor: Predictor, pixels: number[], where: string): Preprocessed {
  if (pixels.length !== PIXELS) throw new ApiError(422, 'wrong_pixel_count', `${where}pixels has ${pixels.length} values; a 28x28 image needs ${PIXELS}`);
  const bad = pixels.findIndex((v) => !Number.isFinite(v) || v < 0 || v > 255);
  if (bad >= 0) throw new ApiError(422, 'pixel_out_of_range', `${where}pixels[${bad}] is ${pixels[bad]}, outside 0-255`);
  return predictor.preprocessPixels(Uint8Array.from(pixels, Math.round));
}

/** Image file bytes → decoded → the shared preprocessing. Undecodable: 400. */
export async function fromImageBytes(predictor: Predictor, bytes: Uint8Array, name: string): Promise<Preprocessed> {
  if (bytes.length === 0) throw new ApiError(400, 'bad_image', `${name} is empty`);
  try {
    return await predictor.preprocessBytes(bytes, name);
  } catch (err) {
    if (err instanceof UserError) throw new ApiError(400, 'bad_image', err.message);
    throw err;
  }
}

function fromBase64(predictor: Predictor, image: string, name: string): Promise<Preprocessed> {
  const payload = image.replace(/^data:[^,]*,/, '');
  if (!/^[A-Za-z0-9+/=\s_-]*$/.test(payload)) throw new ApiError(400, 'bad_image', `${name} is not base64`);
  return fromImageBytes(predictor, new Uint8Array(Buffer.from(payload, 'base64')), name);
}

export function fromJsonItem(predictor: Predictor, item: JsonItem, where: string): Promise<Preprocessed> {
  if (typeof item !== 'object' || item === null) throw new ApiError(415, 'unsupported_media_type', 'send an image, a multipart form or JSON');
  return 'pixels' in item ? Promise.resolve(fromPixels(predictor, item.pixels, where)) : fromBase64(predictor, item.image, `${where}image`);
}
