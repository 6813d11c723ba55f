/**
 * The server's JSON API, as the page uses it.
 */

import type { PreprocessSpec } from '../../data/model-input.js';
import type { LayerViewJson } from '../../model/layer-views.js';
import type { Prediction, SetRule } from '../../predict/interpret.js';

/** A prediction, with what the network computes inside when asked (`?layers=1`). */
export type ServerAnswer = Prediction & { layers?: LayerViewJson[] };

/** GET /v1/model (the fields the page reads). */
export interface ModelInfo {
  arch: string;
  params: number;
  testAccuracy: number | null;
  trainedAt: string;
  minConfidence?: number;
  /** The run's fitted not-a-digit threshold (AnswerRule.notADigitBelow); null when it has none. */
  notADigitBelow?: number | null;
  /** The run's prediction sets' thresholds (AnswerRule.sets); null when it has none. */
  sets?: SetRule | null;
  /** The calibration temperature the server applies to every answer's probabilities (absent: 1). */
  temperature?: number;
  classNames?: string[];
  /** The served model's model-input contract: the page preprocesses drawings with it. */
  preprocessing?: PreprocessSpec;
}

/** A JSON answer, or an Error with the server's message (`what` names the request). */
export async function readJson<T>(response: Response, what: string): Promise<T> {
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${what}: the server answered ${response.status} with something that is not JSON`);
  }
  if (!response.ok) {
    const message =
      (body as { error?: { message?: string }; message?: string }).error?.message ??
      (body as { message?: string }).message;
    throw new Error(`${what}: ${message ?? `HTTP ${response.status}`}`);
  }
  return body as T;
}

export async function fetchModelInfo(): Promise<ModelInfo> {
  return readJson<ModelInfo>(await fetch('/v1/model'), 'model description');
}

/**
 * The 28x28 bytes, already preprocessed in the page: the server only scales and reads them.
 * With `layers`, the answer carries the views inside the network too (about 26 kB more).
 */
export async function predictOnServer(
  pixels: Uint8Array,
  options: { layers?: boolean; signal?: AbortSignal } = {},
): Promise<ServerAnswer> {
  const response = await fetch(options.layers ? '/v1/predict?layers=1' : '/v1/predict', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ pixels: Array.from(pixels) }),
    signal: options.signal,
  });
  return readJson<ServerAnswer>(response, 'prediction');
}
