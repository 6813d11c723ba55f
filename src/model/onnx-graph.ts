import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';

/**
 * A TensorFlow.js layers model seen as a graph, for the ONNX converter (onnx.ts): its nodes in
 * the order that computes them, and the softmax "heads" whose probabilities make its output.
 * Kept apart from the converter because the export's check (export/verify.ts) needs the same
 * heads to fold a temperature into the TensorFlow.js reference exactly as the converter folds it
 * into the ONNX graph.
 */

/** One application of a layer: what tfjs calls a Node (not exported by the package's index). */
export type LayerNode = tf.layers.Layer['inboundNodes'][number];

/**
 * The model's own nodes, inputs first, every node after the nodes it reads from.
 *
 * From the container's `nodesByDepth` (depth 0 = the output), which is what tfjs itself executes:
 * a layer also applied in another model (`logitsModel` shares every layer of its model) may have
 * nodes that are not part of this one, so walking `layer.inboundNodes` would be wrong. A
 * Sequential fills `nodesByDepth` only when it is first built (by fit, predict or countParams):
 * before that, a functional view over the same tensors (no copy, the model untouched) has them.
 */
export function modelNodes(model: tf.LayersModel): LayerNode[] {
  const graph =
    Object.keys(model.nodesByDepth).length > 0 ? model : tf.model({ inputs: model.inputs, outputs: model.outputs });
  const depths = Object.keys(graph.nodesByDepth)
    .map(Number)
    .sort((a, b) => b - a);
  return depths.flatMap((depth) => graph.nodesByDepth[depth]);
}

/** The one input and one output of an exportable model, or a UserError saying how many it has. */
export function singleInputOutput(model: tf.LayersModel): { input: tf.SymbolicTensor; output: tf.SymbolicTensor } {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new UserError(
      `model '${model.name}' has ${model.inputs.length} inputs and ${model.outputs.length} outputs: only a model with one input and one output (an image in, probabilities out) can be exported`,
    );
  }
  return { input: model.inputs[0], output: model.outputs[0] };
}

/** Layer classes that compute nothing at inference (tfjs's `predict` passes their input through). */
export const IDENTITY_LAYERS: ReadonlySet<string> = new Set([
  'Dropout',
  'SpatialDropout1D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
]);

/** A softmax over the last axis whose probabilities go into the model's output with a fixed weight. */
export interface SoftmaxHead {
  layer: tf.layers.Layer;
  node: LayerNode;
  /** The head's probabilities (the node's output). */
  probabilities: tf.SymbolicTensor;
  /** Its share of the output: 1 for a single network, 1/n for each member of an n-way average. */
  weight: number;
}

function isLastAxisSoftmax(layer: tf.layers.Layer, rank: number): boolean {
  const config = layer.getConfig();
  const className = layer.getClassName();
  if (className === 'Softmax') {
    const axis = Number(config.axis ?? -1);
    return axis === -1 || axis === rank - 1;
  }
  // Activation layers and any layer with a fused activation (Dense, Conv2D, ...): tfjs's softmax activation is over the last axis.
  return config.activation === 'softmax';
}

/**
 * Where the model's output probabilities come from: the softmax heads reached from the output
 * through pass-through layers (Dropout and kin, linear activations) and averages (an ensemble's
 * `probabilities` layer averages its members' heads, each with weight 1/n; nested averages
 * multiply). A temperature T is folded in by dividing the logits of the head by T when the
 * output is one softmax (weight 1), and otherwise as softmax(log p / T) of the mean p: an ensemble
 * is calibrated as a whole, as the Predictor does (metrics/calibration.ts).
 *
 * Returns the heads, or a reason (naming the layer) why the output is not such a mean of softmaxes.
 */
export function softmaxHeads(model: tf.LayersModel): SoftmaxHead[] | string {
  const { output } = singleInputOutput(model);
  const producer = new Map<number, LayerNode>();
  for (const node of modelNodes(model)) for (const t of node.outputTensors) producer.set(t.id, node);
  const heads = new Map<LayerNode, SoftmaxHead>();
  const visit = (tensor: tf.SymbolicTensor, weight: number): string | undefined => {
    const node = producer.get(tensor.id);
    if (!node) return 'the output is the model input';
    const layer = node.outboundLayer;
    const className = layer.getClassName();
    const single = () => node.inputTensors[0];
    if (isLastAxisSoftmax(layer, tensor.rank)) {
      const seen = heads.get(node);
      if (seen) seen.weight += weight;
      else heads.set(node, { layer, node, probabilities: tensor, weight });
      return undefined;
    }
    if (IDENTITY_LAYERS.has(className) || (className === 'Activation' && layer.getConfig().activation === 'linear'))
      return visit(single(), weight);
    if (className === 'Average') {
      for (const input of node.inputTensors) {
        const problem = visit(input, weight / node.inputTensors.length);
        if (problem) return problem;
      }
      return undefined;
    }
    return `layer '${layer.name}' (${className}) lies between the output and its softmax`;
  };
  const problem = visit(output, 1);
  return problem ?? [...heads.values()];
}
