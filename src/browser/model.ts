/**
 * The served model, run in this browser with TensorFlow.js. Loaded only when asked for: this
 * module and TensorFlow.js form a separate chunk of the bundle, fetched on first use.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadLayersModel, model as functionalModel, type LayersModel, type SymbolicTensor } from '@tensorflow/tfjs-layers';
import { layerViews, PAGE_VIEW_KINDS, PAGE_VIEW_MAX_BYTES, quantiseView, type LayerInfo } from '../../model/layer-views.js';
import type { ShownView } from './layers-panel.js';

export interface BrowserModel {
  /** The ten class probabilities for one preprocessed 28x28 input. */
  probabilities(input: Float32Array): number[];
  /**
   * What the network computes inside for the input, as the server's `?layers=1` answers it (the
   * same views, shrunk and quantised alike: model/layer-views.ts), here in the page.
   */
  layers(input: Float32Array): ShownView[];
}

/** The layers as the shared view code describes them (model/activations.ts does the same in Node). */
function layerInfos(model: LayersModel): LayerInfo[] {
  // A functional model (an ensemble) lists its InputLayer, a Sequential does not: in a graph, say what reads what.
  const graph = model.layers.some((layer) => layer.getClassName() === 'InputLayer');
  return model.layers
    .filter((layer) => layer.getClassName() !== 'InputLayer')
    .map((layer) => {
      const activation = layer.getConfig().activation;
      const shape = (layer.outputShape as (number | null)[]).slice(1).map((d) => d ?? 1);
      const inbound = graph ? layer.inboundNodes[0]?.inboundLayers[0]?.name : undefined;
      return { name: layer.name, className: layer.getClassName(), shape, ...(typeof activation === 'string' ? { activation } : {}), ...(inbound ? { inbound } : {}) };
    });
}

/**
 * One 28x28 image per call: the plain-JavaScript 'cpu' backend answers in milliseconds and needs
 * no GPU (nor WebGL in a headless browser).
 */
export async function loadBrowserModel(url = '/model/model.json'): Promise<BrowserModel> {
  await tf.setBackend('cpu');
  await tf.ready();
  const model: LayersModel = await loadLayersModel(url);
  const [, height, width, channels] = model.inputs[0].shape as number[];
  const toInput = (input: Float32Array) => tf.tensor4d(input, [1, height, width, channels]);
  // Built on first use (the panel opened): one model over the same layers, sharing their weights.
  let probe: { views: ReturnType<typeof layerViews>; model: LayersModel } | undefined;
  return {
    probabilities(input: Float32Array): number[] {
      const output = tf.tidy(() => model.predict(toInput(input)) as tf.Tensor);
      const values = Array.from(output.dataSync());
      output.dispose();
      return values;
    },
    layers(input: Float32Array): ShownView[] {
      if (!probe) {
        const views = layerViews(layerInfos(model), PAGE_VIEW_KINDS);
        const outputs = views.map((view) => model.getLayer(view.layer).output as SymbolicTensor);
        probe = { views, model: functionalModel({ inputs: model.inputs, outputs }) };
      }
      const { views, model: multi } = probe;
      const outputs = tf.tidy(() => {
        const y = multi.predict(toInput(input));
        return Array.isArray(y) ? y : [y];
      });
      try {
        return views.map(({ first: _first, ...view }, k) => ({ ...view, ...quantiseView(outputs[k].dataSync(), view.shape, PAGE_VIEW_MAX_BYTES) }));
      } finally {
        tf.dispose(outputs);
      }
    },
  };
}
