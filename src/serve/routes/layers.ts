/**
 * `POST /v1/predict?layers=1`: the answer also carries what the network computes inside for the
 * input, view by view (model/layer-views.ts: each convolution's maps and the hidden dense
 * layers' values), each quantised to bytes and shrunk to at most PAGE_VIEW_MAX_BYTES (16 KiB),
 * in base64. For the default network: conv 1 (32 maps, shrunk from 28x28 to 14x14), conv 2
 * (64 maps 14x14), dense 1 (128 values): 18,944 bytes, about 26 kB of JSON.
 */
import type { Preprocessed } from '../../image/preprocess.js';
import { layerActivations, modelViews } from '../../model/activations.js';
import { PAGE_VIEW_KINDS, PAGE_VIEW_MAX_BYTES, quantiseView, type LayerViewJson } from '../../model/layer-views.js';
import type { Predictor } from '../../predict/predictor.js';

/** The views of one preprocessed input, computed by model/activations.ts on the served model. */
export function layersAnswer(predictor: Predictor, input: Preprocessed): LayerViewJson[] {
  const views = modelViews(predictor.model, PAGE_VIEW_KINDS);
  const activations = layerActivations(predictor.model, input.input, 1, { layers: views.map((v) => v.layer) });
  return views.map(({ first: _first, ...view }, k) => {
    const { bytes, ...quantised } = quantiseView(activations[k].values, view.shape, PAGE_VIEW_MAX_BYTES);
    return {
      ...view,
      ...quantised,
      data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
    };
  });
}
