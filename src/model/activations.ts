/**
 * The network's intermediate outputs: THE one function that computes them (`layerActivations`),
 * for the report's feature maps and embedding, `inspect`, and the server's `?layers=1`. It runs
 * the model's own layers (one multi-output model over them, sharing their weights, built once
 * per model and set of layers), never a second copy of the network.
 */
import * as tf from '@tensorflow/tfjs';
import { layerViews, type LayerInfo, type LayerView, type ViewKind } from './layer-views.js';

export interface LayerActivation {
  name: string;
  className: string;
  /** One image's output shape (no batch axis): [height, width, channels] or [units]. */
  shape: number[];
  /** n images' outputs, one after the other (each `shape`, channel last). */
  values: Float32Array;
}

/** The layers of a model that compute something (its InputLayer left out), in order. */
function computingLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.filter((layer) => layer.getClassName() !== 'InputLayer');
}

function outputShape(layer: tf.layers.Layer): number[] {
  const shape = layer.outputShape as (number | null)[];
  return shape.slice(1).map((d) => d ?? 1);
}

/** The model's layers as the tfjs-free view code (layer-views.ts) describes them. */
export function layerInfos(model: tf.LayersModel): LayerInfo[] {
  const graph = !(model instanceof tf.Sequential);
  return computingLayers(model).map((layer) => {
    const activation = layer.getConfig().activation;
    const inbound = graph ? layer.inboundNodes[0]?.inboundLayers[0]?.name : undefined;
    return {
      name: layer.name,
      className: layer.getClassName(),
      shape: outputShape(layer),
      ...(typeof activation === 'string' ? { activation } : {}),
      ...(inbound ? { inbound } : {}),
    };
  });
}

/** The views of `model` (layer-views.ts): each convolution and pooling layer, the hidden dense layers. */
export function modelViews(model: tf.LayersModel, kinds?: readonly ViewKind[]): LayerView[] {
  return layerViews(layerInfos(model), kinds);
}

/** Layers that only reshape or pass values on: what comes out of them is what went in. */
const PASS_THROUGH = new Set(['Flatten', 'Reshape', 'Dropout', 'InputLayer']);

/**
 * The layer whose output is the network's embedding: what its last dense layer reads (the
 * penultimate representation, 128 values after batch norm and ReLU in the default network).
 * Undefined when that is the input itself, reshaped (a model with no hidden layer).
 */
export function embeddingLayer(model: tf.LayersModel): string | undefined {
  const layers = computingLayers(model);
  const last = layers.map((l) => l.getClassName()).lastIndexOf('Dense');
  const inbound = last < 0 ? undefined : layers[last].inboundNodes[0]?.inboundLayers[0];
  let source = inbound;
  while (source && PASS_THROUGH.has(source.getClassName()) && source.getClassName() !== 'InputLayer')
    source = source.inboundNodes[0]?.inboundLayers[0];
  return !inbound || !source || source.getClassName() === 'InputLayer' ? undefined : inbound.name;
}

/** Per model, a multi-output model per set of layer names. Never disposed: they share the model's weights. */
const probes = new WeakMap<tf.LayersModel, Map<string, tf.LayersModel>>();

function probeOf(model: tf.LayersModel, layers: tf.layers.Layer[]): tf.LayersModel {
  let byNames = probes.get(model);
  if (!byNames) probes.set(model, (byNames = new Map<string, tf.LayersModel>()));
  const key = layers.map((l) => l.name).join('\n');
  let probe = byNames.get(key);
  if (!probe) {
    probe = tf.model({ inputs: model.inputs, outputs: layers.map((l) => l.output as tf.SymbolicTensor) });
    byNames.set(key, probe);
  }
  return probe;
}

export interface ActivationOptions {
  /** Layer names, in the order wanted (default: every layer but the input). */
  layers?: readonly string[];
  /** Images per model call (default 256): the memory of a call is that many images' outputs of every layer asked for. */
  batchSize?: number;
}

/**
 * The outputs of the model's layers for `n` inputs (n * 784 values at the model's scale, as
 * Predictor.preprocess* gives them), each named after its layer. Runs in batches; every tensor
 * is disposed.
 */
export function layerActivations(
  model: tf.LayersModel,
  inputs: Float32Array,
  n: number,
  options: ActivationOptions = {},
): LayerActivation[] {
  const all = computingLayers(model);
  const layers = options.layers
    ? options.layers.map((name) => {
        const layer = all.find((l) => l.name === name);
        if (!layer)
          throw new Error(`model ${model.name} has no layer ${name} (it has ${all.map((l) => l.name).join(', ')})`);
        return layer;
      })
    : all;
  const inputShape = model.inputs[0].shape.slice(1).map((d) => d ?? 1);
  const perImage = inputShape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(n) || n < 0 || inputs.length !== n * perImage)
    throw new Error(`${inputs.length} input values are not ${n} inputs of ${perImage}`);
  const results = layers.map((layer) => {
    const shape = outputShape(layer);
    return {
      name: layer.name,
      className: layer.getClassName(),
      shape,
      values: new Float32Array(n * shape.reduce((a, b) => a * b, 1)),
    };
  });
  if (layers.length === 0 || n === 0) return results;
  const probe = probeOf(model, layers);
  const batchSize = Math.max(1, options.batchSize ?? 256);
  for (let from = 0; from < n; from += batchSize) {
    const count = Math.min(batchSize, n - from);
    const outputs = tf.tidy(() => {
      const x = tf.tensor(inputs.subarray(from * perImage, (from + count) * perImage), [count, ...inputShape]);
      const y = probe.predict(x, { batchSize: count });
      return Array.isArray(y) ? y : [y];
    });
    try {
      outputs.forEach((output, k) => {
        const size = results[k].values.length / n;
        results[k].values.set(output.dataSync(), from * size);
      });
    } finally {
      tf.dispose(outputs);
    }
  }
  return results;
}
