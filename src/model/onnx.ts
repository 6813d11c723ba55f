import type * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import { UserError } from '../util/errors.js';
import { VERSION } from '../util/version.js';
import { IDENTITY_LAYERS, modelNodes, singleInputOutput, softmaxHeads, type LayerNode } from './onnx-graph.js';

/**
 * TensorFlow.js layers model → ONNX model bytes (in memory), built with onnx-proto (the protobufjs
 * classes generated from ONNX 1.10's onnx.proto) and encoded by protobufjs: no protobuf bytes are
 * written by hand.
 *
 * The layout. tfjs computes in NHWC with HWIO kernels; ONNX's Conv and pooling ops are NCHW with
 * OIHW kernels. The graph keeps the model's contract at its edges (input `image` [N,28,28,1]
 * float32 NHWC, output `probabilities` [N,10]) and transposes once after the input; every rank-4
 * value inside is NCHW, so each layer maps to one ONNX op and kernels are transposed at export.
 * Flatten transposes back to NHWC first, so that the flattened order (and hence the next Dense
 * kernel) is exactly tfjs's: a transpose of 3,136 floats per image in the default net (7x7x64),
 * against the alternative of permuting Dense kernel rows, which breaks as soon as anything but a
 * Dense reads the flattened vector.
 *
 * Batch normalisation is emitted as ONNX BatchNormalization (inference form: the moving mean and
 * variance); ONNX Runtime fuses it into the convolution before it (graph optimisation), so folding
 * it here would only make the exported weights differ from the run's.
 *
 * Two users: `export` writes a run's model as a file (export/onnx.ts), and the `onnx` runtime
 * (backend/onnx-runner.ts) converts a model in memory and runs it with ONNX Runtime.
 */

const { onnx } = onnxProto;
type AttributeValue = number | number[] | string;
/** Attributes that ONNX types as FLOAT even when their value is a whole number (Elu's alpha = 1). */
const FLOAT_ATTRIBUTES: ReadonlySet<string> = new Set(['alpha', 'beta', 'gamma', 'epsilon']);
/** tfjs merge layers → the variadic ONNX op computing the same. */
const MERGE_OPS: Record<string, string> = { Average: 'Mean', Add: 'Sum', Maximum: 'Max', Minimum: 'Min' };

/** The opsets this writer emits valid graphs for (every op it uses is unchanged or compatible from 13 to 21). */
const MIN_OPSET = 13;
const MAX_OPSET = 21;
/** The graph's input and output names: the model's contract, also in metadata_props. */
const ONNX_INPUT = 'image';
const ONNX_OUTPUT = 'probabilities';

/** The lowest IR version that may declare `opset` (onnx/helper.py's VERSION_TABLE). */
function irVersionFor(opset: number): number {
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

export interface OnnxExportOptions {
  /**
   * The calibration temperature T: the output becomes softmax(log p / T) of the model's p, as the
   * Predictor computes it (metrics/calibration.ts). For one network this is its softmax's logits
   * divided by T; for an ensemble (a mean of softmaxes), Log → Div → Softmax after the mean.
   */
  temperature?: number;
  /** Written as the model's metadata_props, key → value, as given. */
  metadata?: Record<string, string>;
  /** ONNX opset, 13 (default) to 21. */
  opset?: number;
}

/** An ONNX value: its name, and for rank-4 tensors, that it holds NCHW data for tfjs's NHWC tensor. */
interface Value {
  name: string;
  rank: number;
  nchw: boolean;
}

/** tfjs axis of an NHWC tensor → the axis of its NCHW ONNX value. */
function nchwAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  return rank === 4 ? [0, 2, 3, 1][a] : a;
}

function pair(value: unknown, what: string, layer: tf.layers.Layer): [number, number] {
  const v = Array.isArray(value) ? value : [value, value];
  if (v.length !== 2 || !v.every((x) => Number.isInteger(x)))
    throw unsupported(layer, `${what} ${JSON.stringify(value)}`);
  return [v[0] as number, v[1] as number];
}

/** A layer config value as text: strings as they are (an activation's name), anything else as JSON. */
function configText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function unsupported(layer: tf.layers.Layer, detail?: string): UserError {
  return new UserError(
    `layer '${layer.name}' (${layer.getClassName()}) cannot be exported to ONNX${detail ? `: ${detail}` : ''}`,
  );
}

/** TensorFlow's 'same' padding: the total, split with the odd pixel at the end (ONNX's SAME_UPPER). */
function samePads(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + effective - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** Builds one GraphProto: nodes, initializers with unique names (also the quantiser's, onnx-quantize.ts). */
export class GraphBuilder {
  readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly used = new Set<string>();

  unique(name: string): string {
    let candidate = name;
    for (let k = 2; this.used.has(candidate); k++) candidate = `${name}_${k}`;
    this.used.add(candidate);
    return candidate;
  }

  /** An initializer of any type from its raw_data bytes (little-endian, as ONNX requires). */
  tensor(name: string, dims: number[], dataType: number, rawData: Uint8Array): string {
    const unique = this.unique(name);
    this.initializers.push(onnx.TensorProto.create({ name: unique, dims, dataType, rawData }));
    return unique;
  }

  /** A float32 initializer; its bytes little-endian as ONNX's raw_data requires, whatever this machine's order. */
  floats(name: string, dims: number[], values: ArrayLike<number>): string {
    const raw = new Uint8Array(values.length * 4);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
    return this.tensor(name, dims, onnx.TensorProto.DataType.FLOAT, raw);
  }

  int64s(name: string, values: number[]): string {
    const unique = this.unique(name);
    this.initializers.push(
      onnx.TensorProto.create({
        name: unique,
        dims: [values.length],
        dataType: onnx.TensorProto.DataType.INT64,
        int64Data: values,
      }),
    );
    return unique;
  }

  /** Add a node; its output is a new value named `output` (made unique). Returns that name. */
  op(opType: string, inputs: string[], output: string, attributes: Record<string, AttributeValue> = {}): string {
    const out = this.unique(output);
    const attribute = Object.entries(attributes).map(([name, value]) => {
      const { AttributeType } = onnx.AttributeProto;
      if (typeof value === 'string')
        return onnx.AttributeProto.create({ name, type: AttributeType.STRING, s: new TextEncoder().encode(value) });
      if (Array.isArray(value)) return onnx.AttributeProto.create({ name, type: AttributeType.INTS, ints: value });
      if (Number.isInteger(value) && !FLOAT_ATTRIBUTES.has(name))
        return onnx.AttributeProto.create({ name, type: AttributeType.INT, i: value });
      return onnx.AttributeProto.create({ name, type: AttributeType.FLOAT, f: value });
    });
    this.nodes.push(onnx.NodeProto.create({ opType, input: inputs, output: [out], name: out, attribute }));
    return out;
  }

  /** Rename a value everywhere it is produced or read (the model output becomes `probabilities`). */
  rename(from: string, to: string): void {
    for (const node of this.nodes) {
      node.input = node.input.map((n) => (n === from ? to : n));
      node.output = node.output.map((n) => (n === from ? to : n));
      if (node.name === from) node.name = to;
    }
  }
}

/** A layer's weights by the last part of their names ('kernel', 'bias', 'gamma', ...), as float32 data. */
function weightsOf(layer: tf.layers.Layer): Map<string, { shape: number[]; data: Float32Array }> {
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const w of layer.weights) {
    if (w.dtype !== 'float32') throw unsupported(layer, `weight ${w.originalName} is ${w.dtype}, not float32`);
    const key = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
    weights.set(key, { shape: w.shape as number[], data: w.read().dataSync() as Float32Array });
  }
  return weights;
}

function weight(layer: tf.layers.Layer, weights: ReturnType<typeof weightsOf>, key: string) {
  const w = weights.get(key);
  if (!w) throw unsupported(layer, `it has no '${key}' weight`);
  return w;
}

/** HWIO (tfjs Conv2D kernel) → OIHW (ONNX Conv weight). */
function hwioToOihw(data: Float32Array, [kh, kw, ci, co]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + h) * kw + w] = data[((h * kw + w) * ci + i) * co + o];
  return out;
}

/** [kh, kw, ci, m] (tfjs depthwise kernel) → [ci*m, 1, kh, kw] (ONNX Conv weight with group = ci; output channel c*m + k as in tfjs). */
function depthwiseToOihw(data: Float32Array, [kh, kw, ci, m]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let c = 0; c < ci; c++)
        for (let k = 0; k < m; k++) out[((c * m + k) * kh + h) * kw + w] = data[((h * kw + w) * ci + c) * m + k];
  return out;
}

/** The per-layer translation, with the values computed so far (tfjs tensor id → ONNX value). */
class Converter {
  readonly graph = new GraphBuilder();
  readonly values = new Map<number, Value>();

  constructor(
    private readonly temperature: number | undefined,
    /** The softmax heads whose logits are divided by the temperature. */
    private readonly heads: ReadonlySet<LayerNode>,
  ) {}

  private value(t: tf.SymbolicTensor, layer: tf.layers.Layer): Value {
    const v = this.values.get(t.id);
    if (!v) throw unsupported(layer, 'it reads a tensor computed outside the model');
    return v;
  }

  /** The value in tfjs's own NHWC order (a transpose when it is held as NCHW). */
  private natural(v: Value, prefix: string): string {
    return v.nchw ? this.graph.op('Transpose', [v.name], `${prefix}/to_nhwc`, { perm: [0, 2, 3, 1] }) : v.name;
  }

  private requireNchw(v: Value, layer: tf.layers.Layer): void {
    if (!v.nchw) throw unsupported(layer, `it takes a rank-${v.rank} input; only rank-4 images (NHWC) are supported`);
    if (layer.getConfig().dataFormat === 'channelsFirst') throw unsupported(layer, "dataFormat 'channelsFirst'");
  }

  /**
   * A tfjs activation by name, applied to `input` (the output of `node`'s own op). Its softmax is
   * over tfjs's last axis; at a softmax head it first divides the logits by the temperature.
   */
  activation(name: string, input: Value, layer: tf.layers.Layer, node: LayerNode): string {
    const g = this.graph;
    const x = input.name;
    const p = layer.name;
    switch (name) {
      case 'linear':
        return x;
      case 'relu':
        return g.op('Relu', [x], `${p}/relu`);
      case 'relu6':
        return g.op('Clip', [x, g.floats(`${p}/zero`, [], [0]), g.floats(`${p}/six`, [], [6])], `${p}/relu6`);
      case 'sigmoid':
        return g.op('Sigmoid', [x], `${p}/sigmoid`);
      case 'tanh':
        return g.op('Tanh', [x], `${p}/tanh`);
      case 'elu':
        return g.op('Elu', [x], `${p}/elu`, { alpha: 1 });
      // tfjs's selu uses Keras's constants (the ONNX defaults, written out so that a change of default cannot alter the graph).
      case 'selu':
        return g.op('Selu', [x], `${p}/selu`, { alpha: 1.6732632423543772, gamma: 1.0507009873554805 });
      case 'softplus':
        return g.op('Softplus', [x], `${p}/softplus`);
      case 'softsign':
        return g.op('Softsign', [x], `${p}/softsign`);
      // tfjs: clip(0.2 x + 0.5, 0, 1); ONNX's defaults are the same, but are written out for the same reason.
      case 'hardSigmoid':
        return g.op('HardSigmoid', [x], `${p}/hard_sigmoid`, { alpha: 0.2, beta: 0.5 });
      case 'swish':
        return g.op('Mul', [x, g.op('Sigmoid', [x], `${p}/swish_sigmoid`)], `${p}/swish`);
      case 'mish':
        return g.op(
          'Mul',
          [x, g.op('Tanh', [g.op('Softplus', [x], `${p}/mish_softplus`)], `${p}/mish_tanh`)],
          `${p}/mish`,
        );
      case 'softmax':
        return this.softmax(x, nchwAxis(-1, input.rank), layer, node);
      default:
        throw unsupported(layer, `activation '${name}'`);
    }
  }

  private softmax(x: string, axis: number, layer: tf.layers.Layer, node: LayerNode): string {
    let logits = x;
    if (this.temperature !== undefined && this.heads.has(node)) {
      logits = this.graph.op(
        'Div',
        [x, this.graph.floats(`${layer.name}/temperature`, [], [this.temperature])],
        `${layer.name}/logits_over_temperature`,
      );
    }
    return this.graph.op('Softmax', [logits], `${layer.name}/softmax`, { axis });
  }

  /** Translate one node; record the ONNX value of each of its outputs. */
  convert(node: LayerNode): void {
    const layer = node.outboundLayer;
    const className = layer.getClassName();
    const config = layer.getConfig();
    const g = this.graph;
    const p = layer.name;
    const ins = node.inputTensors.map((t) => this.value(t, layer));
    const [x] = ins;
    const outRank = node.outputTensors[0].rank;
    const set = (name: string, nchw = x.nchw && outRank === 4): void => {
      this.values.set(node.outputTensors[0].id, { name, rank: outRank, nchw });
    };
    if (node.outputTensors.length !== 1) throw unsupported(layer, `it has ${node.outputTensors.length} outputs`);
    if (IDENTITY_LAYERS.has(className)) return set(x.name, x.nchw);
    switch (className) {
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        this.requireNchw(x, layer);
        const weights = weightsOf(layer);
        const depthwise = className === 'DepthwiseConv2D';
        const kernel = weight(layer, weights, depthwise ? 'depthwise_kernel' : 'kernel');
        const [kh, kw, ci, co] = kernel.shape;
        const strides = pair(config.strides, 'strides', layer);
        const dilations = pair(config.dilationRate, 'dilationRate', layer);
        const onnxWeight = depthwise
          ? g.floats(`${p}/weight`, [ci * co, 1, kh, kw], depthwiseToOihw(kernel.data, kernel.shape))
          : g.floats(`${p}/weight`, [co, ci, kh, kw], hwioToOihw(kernel.data, kernel.shape));
        const inputs = [x.name, onnxWeight];
        if (config.useBias) {
          const bias = weight(layer, weights, 'bias');
          inputs.push(g.floats(`${p}/bias`, bias.shape, bias.data));
        }
        const conv = g.op('Conv', inputs, `${p}/conv`, {
          kernel_shape: [kh, kw],
          strides,
          dilations,
          group: depthwise ? ci : 1,
          ...this.pads(node, [kh, kw], strides, dilations, layer),
        });
        return set(
          this.activation(configText(config.activation ?? 'linear'), { name: conv, rank: 4, nchw: true }, layer, node),
          true,
        );
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        this.requireNchw(x, layer);
        const kernel = pair(config.poolSize, 'poolSize', layer);
        const strides = pair(config.strides ?? config.poolSize, 'strides', layer);
        // With 'same' padding, TensorFlow's average leaves the padding out of the count: ONNX's count_include_pad = 0 (default).
        const op = className === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool';
        return set(
          g.op(op, [x.name], `${p}/${op === 'MaxPool' ? 'max_pool' : 'average_pool'}`, {
            kernel_shape: kernel,
            strides,
            ...this.pads(node, kernel, strides, [1, 1], layer),
          }),
          true,
        );
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        this.requireNchw(x, layer);
        const pooled = g.op(
          className === 'GlobalMaxPooling2D' ? 'GlobalMaxPool' : 'GlobalAveragePool',
          [x.name],
          `${p}/pool`,
        );
        return set(g.op('Flatten', [pooled], `${p}/flatten`, { axis: 1 }), false);
      }
      case 'ZeroPadding2D': {
        this.requireNchw(x, layer);
        const [[top, bottom], [left, right]] = config.padding as [[number, number], [number, number]];
        return set(
          g.op('Pad', [x.name, g.int64s(`${p}/pads`, [0, 0, top, left, 0, 0, bottom, right])], `${p}/pad`),
          true,
        );
      }
      case 'BatchNormalization': {
        const axis = Number(config.axis ?? -1);
        if (axis !== -1 && axis !== x.rank - 1)
          throw unsupported(layer, `axis ${axis}; only the channel axis (-1) is supported`);
        // ONNX normalises axis 1: the channel axis of NCHW values and of [N, C] ones.
        if (!(x.rank === 2 || (x.rank === 4 && x.nchw)))
          throw unsupported(layer, `a rank-${x.rank} input; only [N, C] and images are supported`);
        const weights = weightsOf(layer);
        const mean = weight(layer, weights, 'moving_mean');
        const variance = weight(layer, weights, 'moving_variance');
        const channels = mean.data.length;
        const gamma = config.scale ? weight(layer, weights, 'gamma').data : new Float32Array(channels).fill(1);
        const beta = config.center ? weight(layer, weights, 'beta').data : new Float32Array(channels);
        const inputs = [
          x.name,
          g.floats(`${p}/gamma`, [channels], gamma),
          g.floats(`${p}/beta`, [channels], beta),
          g.floats(`${p}/moving_mean`, [channels], mean.data),
          g.floats(`${p}/moving_variance`, [channels], variance.data),
        ];
        return set(
          g.op('BatchNormalization', inputs, `${p}/batch_norm`, { epsilon: Number(config.epsilon ?? 1e-3) }),
          x.nchw,
        );
      }
      case 'Dense': {
        if (x.rank !== 2)
          throw unsupported(layer, `a rank-${x.rank} input; only [N, features] (after Flatten) is supported`);
        const weights = weightsOf(layer);
        const kernel = weight(layer, weights, 'kernel');
        const inputs = [x.name, g.floats(`${p}/kernel`, kernel.shape, kernel.data)];
        if (config.useBias) {
          const bias = weight(layer, weights, 'bias');
          inputs.push(g.floats(`${p}/bias`, bias.shape, bias.data));
        }
        const gemm = g.op('Gemm', inputs, `${p}/gemm`);
        return set(
          this.activation(configText(config.activation ?? 'linear'), { name: gemm, rank: 2, nchw: false }, layer, node),
          false,
        );
      }
      case 'Flatten':
        if (x.rank === 2) return set(x.name, false);
        return set(g.op('Flatten', [this.natural(x, p)], `${p}/flatten`, { axis: 1 }), false);
      case 'Reshape': {
        const target = config.targetShape as number[];
        // 0 keeps the batch size; the rest is tfjs's target shape (a -1 stays a -1, inferred).
        const reshaped = g.op('Reshape', [this.natural(x, p), g.int64s(`${p}/shape`, [0, ...target])], `${p}/reshape`);
        if (outRank !== 4) return set(reshaped, false);
        return set(g.op('Transpose', [reshaped], `${p}/to_nchw`, { perm: [0, 3, 1, 2] }), true);
      }
      case 'Activation':
        return set(this.activation(configText(config.activation), x, layer, node));
      case 'ReLU': {
        const maxValue = config.maxValue as number | null | undefined;
        if (maxValue === null || maxValue === undefined) return set(g.op('Relu', [x.name], `${p}/relu`));
        return set(
          g.op('Clip', [x.name, g.floats(`${p}/zero`, [], [0]), g.floats(`${p}/max`, [], [maxValue])], `${p}/relu`),
        );
      }
      case 'LeakyReLU':
        return set(g.op('LeakyRelu', [x.name], `${p}/leaky_relu`, { alpha: Number(config.alpha ?? 0.3) }));
      case 'ELU':
        return set(g.op('Elu', [x.name], `${p}/elu`, { alpha: Number(config.alpha ?? 1) }));
      case 'Softmax':
        return set(this.softmax(x.name, nchwAxis(Number(config.axis ?? -1), x.rank), layer, node));
      case 'Average':
      case 'Add':
      case 'Maximum':
      case 'Minimum':
      case 'Multiply':
      case 'Concatenate': {
        if (ins.some((v) => v.rank !== x.rank || v.nchw !== x.nchw))
          throw unsupported(layer, 'inputs of different ranks');
        const names = ins.map((v) => v.name);
        if (className === 'Concatenate')
          return set(g.op('Concat', names, `${p}/concat`, { axis: nchwAxis(Number(config.axis ?? -1), x.rank) }));
        if (className === 'Multiply')
          return set(names.slice(1).reduce((acc, name) => g.op('Mul', [acc, name], `${p}/mul`), names[0]));
        const op = MERGE_OPS[className];
        return set(g.op(op, names, `${p}/${op.toLowerCase()}`));
      }
      default:
        throw unsupported(layer);
    }
  }

  /** ONNX `pads` for 'valid' / 'same' from the input's static size (auto_pad SAME_UPPER when it is not known). */
  private pads(
    node: LayerNode,
    kernel: [number, number],
    strides: [number, number],
    dilations: [number, number],
    layer: tf.layers.Layer,
  ): Record<string, AttributeValue> {
    const padding = layer.getConfig().padding;
    if (padding === 'valid') return { pads: [0, 0, 0, 0] };
    if (padding !== 'same') throw unsupported(layer, `padding '${configText(padding)}'`);
    const [, height, width] = node.inputTensors[0].shape;
    if (height === null || width === null) return { auto_pad: 'SAME_UPPER' };
    const [top, bottom] = samePads(height, kernel[0], strides[0], dilations[0]);
    const [left, right] = samePads(width, kernel[1], strides[1], dilations[1]);
    return { pads: [top, left, bottom, right] };
  }
}

function tensorType(shape: (number | null)[]) {
  return {
    tensorType: {
      elemType: onnx.TensorProto.DataType.FLOAT,
      shape: { dim: shape.map((d, k) => (d === null ? { dimParam: k === 0 ? 'N' : `d${k}` } : { dimValue: d })) },
    },
  };
}

/**
 * The model as an ONNX model (ModelProto bytes). Every architecture of this project and their
 * ensembles convert, and any other model made of the layers `Converter.convert` knows; anything
 * else is refused with a UserError naming the layer and its class. The backend must be started
 * (weights are read from it). `temperature` makes the output softmax(log p / T) (see
 * `OnnxExportOptions.temperature`; the output must be a softmax or a mean of softmaxes:
 * onnx-graph.ts `softmaxHeads`).
 */
export function layersModelToOnnx(model: tf.LayersModel, options: OnnxExportOptions = {}): Uint8Array {
  const opset = options.opset ?? MIN_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET)
    throw new UserError(`ONNX opset ${opset} is not supported: choose ${MIN_OPSET} to ${MAX_OPSET}`);
  const { temperature } = options;
  let heads = new Set<LayerNode>();
  if (temperature !== undefined) {
    if (!(Number.isFinite(temperature) && temperature > 0))
      throw new UserError(`temperature ${temperature} is not a positive number`);
    const found = softmaxHeads(model);
    if (typeof found === 'string')
      throw new UserError(`a temperature cannot be folded into model '${model.name}': ${found}`);
    // One softmax that is the whole output: divide its logits. A mean of several: temper the mean (below).
    if (found.length === 1 && found[0].weight === 1) heads = new Set(found.map((h) => h.node));
  }
  const { input, output } = singleInputOutput(model);
  const converter = new Converter(temperature, heads);
  const g = converter.graph;
  g.unique(ONNX_INPUT);
  g.unique(ONNX_OUTPUT);
  const rank = input.rank;
  const inputName =
    rank === 4 ? g.op('Transpose', [ONNX_INPUT], `${ONNX_INPUT}/nchw`, { perm: [0, 3, 1, 2] }) : ONNX_INPUT;
  converter.values.set(input.id, { name: inputName, rank, nchw: rank === 4 });
  for (const node of modelNodes(model)) {
    if (node.outboundLayer.getClassName() === 'InputLayer') continue;
    if ('layers' in node.outboundLayer)
      throw unsupported(node.outboundLayer, 'a model nested as a layer; build the model flat (as ensembleModel does)');
    converter.convert(node);
  }
  const result = converter.values.get(output.id);
  if (!result) throw new Error('the model output is not computed by its layers');
  let outName = result.name;
  if (result.nchw) outName = g.op('Transpose', [outName], `${ONNX_OUTPUT}/nhwc`, { perm: [0, 2, 3, 1] });
  if (temperature !== undefined && heads.size === 0) {
    // softmax(log p / T) of the mean p: exactly what the Predictor applies to an ensemble's output.
    const logs = g.op('Log', [outName], `${ONNX_OUTPUT}/log`);
    const tempered = g.op(
      'Div',
      [logs, g.floats(`${ONNX_OUTPUT}/temperature`, [], [temperature])],
      `${ONNX_OUTPUT}/log_over_temperature`,
    );
    outName = g.op('Softmax', [tempered], `${ONNX_OUTPUT}/tempered`, { axis: -1 });
  }
  // The output keeps its contract name: rename the value, or copy it when it is an input or a weight.
  if (g.nodes.some((n) => n.output.includes(outName)) && outName !== inputName) g.rename(outName, ONNX_OUTPUT);
  else g.op('Identity', [outName], ONNX_OUTPUT);

  const graph = onnx.GraphProto.create({
    name: model.name,
    node: g.nodes,
    initializer: g.initializers,
    input: [onnx.ValueInfoProto.create({ name: ONNX_INPUT, type: tensorType(input.shape) })],
    output: [onnx.ValueInfoProto.create({ name: ONNX_OUTPUT, type: tensorType(output.shape) })],
  });
  const message = onnx.ModelProto.create({
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'mnist-cnn',
    producerVersion: VERSION,
    docString: `TensorFlow.js layers model '${model.name}' exported by mnist-cnn: ${ONNX_INPUT} [N,${input.shape.slice(1).join(',')}] float32 (NHWC) -> ${ONNX_OUTPUT} [N,${output.shape.slice(1).join(',')}]${temperature !== undefined ? `, temperature ${temperature} folded in` : ''}`,
    graph,
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
  const problem = onnx.ModelProto.verify(message);
  if (problem) throw new Error(`the ONNX model does not match onnx.proto: ${problem}`);
  return onnx.ModelProto.encode(message).finish();
}
