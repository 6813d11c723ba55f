/**
 * A model of this project run in a browser with TensorFlow.js: the browser reader
 * (digit-reader.ts) and the draw-a-digit page's in-browser mode both load it here. The page
 * imports this module only when asked, so that it and TensorFlow.js form a chunk of its bundle
 * fetched on first use.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  loadLayersModel,
  model as functionalModel,
  type LayersModel,
  type SymbolicTensor,
} from '@tensorflow/tfjs-layers';
import {
  layerViews,
  PAGE_VIEW_KINDS,
  PAGE_VIEW_MAX_BYTES,
  quantiseView,
  type LayerInfo,
  type LayerView,
  type QuantisedView,
} from '../model/layer-views.js';

/** One view inside the network for one input, ready to draw. */
export type ShownView = Omit<LayerView, 'first'> & QuantisedView;

export interface BrowserModel {
  /** The model's class probabilities (10, or 11 with "not a digit") for one preprocessed input. */
  probabilities(input: Float32Array): number[];
  /**
   * What the network computes inside for the input, as the server's `?layers=1` answers it (the
   * same views, shrunk and quantised alike: model/layer-views.ts), here in the page.
   */
  layers(input: Float32Array): ShownView[];
  /** Free the model's weights. */
  dispose(): void;
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
      return {
        name: layer.name,
        className: layer.getClassName(),
        shape,
        ...(typeof activation === 'string' ? { activation } : {}),
        ...(inbound ? { inbound } : {}),
      };
    });
}

/**
 * Load a model.json (TensorFlow.js layers format; its weights beside it), or a model from
 * wherever an IOHandler reads it (the page's Train panel: a model trained or uploaded in the
 * page, from memory). One 28x28 image per
 * call: the plain-JavaScript 'cpu' backend answers in milliseconds and needs no GPU (nor WebGL
 * in a headless browser), nor WebAssembly (which a strict Content-Security-Policy forbids).
 */
export async function loadBrowserModel(source: string | tf.io.IOHandler): Promise<BrowserModel> {
  await tf.setBackend('cpu');
  await tf.ready();
  const model: LayersModel = await loadLayersModel(source);
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
        return views.map(({ first: _first, ...view }, k) => ({
          ...view,
          ...quantiseView(outputs[k].dataSync(), view.shape, PAGE_VIEW_MAX_BYTES),
        }));
      } finally {
        tf.dispose(outputs);
      }
    },
    dispose(): void {
      model.dispose();
    },
  };
}
