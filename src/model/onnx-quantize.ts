import onnxProto from 'onnx-proto';
import { UserError } from '../util/errors.js';
import { GraphBuilder } from './onnx.js';

/**
 * Static int8 quantisation of an ONNX model written by the converter (onnx.ts), in QDQ form:
 * QuantizeLinear / DequantizeLinear pairs around every Conv, Gemm and MatMul whose weights are
 * initializers, which ONNX Runtime's CPU provider fuses at load into its integer kernels
 * (QLinearConv, QGemm, QLinearMatMul / MatMulIntegerToFloat: its QDQ selector rules), so one file
 * is both a plain ONNX model any runtime can read and ONNX Runtime's fastest form of it.
 *
 *   weights       int8, symmetric (zero point 0), one scale per output channel: max |w| / 63
 *                 (7 bits, the default, see below; / 127 with `weightBits: 8`); a zero point of 0 also lets ONNX
 *                 Runtime take its symmetric convolution kernels;
 *   biases        int32 at scale (input scale x weight scale), as QLinearConv and QGemm add them;
 *   activations   uint8, one scale and zero point per tensor, from a calibrated range (the caller
 *                 measures it: `calibrationValues` names the tensors, `withOutputs` exposes them);
 *                 a range always holds 0 so that zero padding is exact, and after a ReLU it starts
 *                 at 0, so the zero point is 0 and ONNX Runtime drops the ReLU (the clamp of the
 *                 uint8 output does it). Max pooling, Transpose, Flatten and Reshape pass uint8
 *                 through with the parameters of their input (ONNX Runtime drops their Q/DQ);
 *   the rest      stays float: the last Gemm's output (the logits: no uint8 rounding before the
 *                 softmax), the temperature's Div, Softmax, an ensemble's Mean.
 *
 * Why uint8 activations with int8 weights: it is the one pairing that x86's integer dot product
 * instructions take (u8 x s8: AVX-512 VNNI's vpdpbusd, AVX2's vpmaddubsw), and ONNX Runtime's
 * QDQ selectors on x86 fuse only uint8 activations. AVX2 without VNNI sums pairs of products
 * into int16 with saturation, which 8-bit weights can overflow (2 x 255 x 127 > 32767): 7-bit
 * weights keep every pair under it, so a file made here gives the same answers on any x86 CPU.
 * The bit they cost did not show (docs/int8.md: the same test accuracy and not-a-digit figures
 * as with 8 bits on the `npm start` model); `weightBits: 8` is for CPUs known to have VNNI.
 *
 * Batch normalisation is folded into the Conv or Gemm before it first (`foldBatchNorms`): ONNX
 * Runtime fuses it into a float convolution at load, but not once the weights come out of a
 * DequantizeLinear, and its scale belongs in the weights before they are rounded.
 *
 * Pure graph work on ModelProto bytes: no runtime here (the caller runs ONNX Runtime to calibrate,
 * export/int8.ts). The graph input and output keep their names and the metadata_props are kept,
 * with a `quantization` entry added that says how the model was quantised.
 */

const { onnx } = onnxProto;
type NodeProto = InstanceType<typeof onnx.NodeProto>;
type TensorProto = InstanceType<typeof onnx.TensorProto>;
type ModelProto = InstanceType<typeof onnx.ModelProto>;
type ValueInfoProto = InstanceType<typeof onnx.ValueInfoProto>;
/** A decoded graph: protobufjs gives every repeated field as an array of decoded messages. */
interface GraphProto {
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
}
const { DataType } = onnx.TensorProto;
/** DataType.FLOAT as the number a TensorProto's dataType field holds. */
const FLOAT: number = DataType.FLOAT;

/** A calibrated activation range. */
export interface ValueRange {
  min: number;
  max: number;
}

export interface QuantizeOptions {
  /** Bits of weight precision: 7 ([-63, 63], default: no int16 saturation on x86 without VNNI) or 8 ([-127, 127]). */
  weightBits?: 7 | 8;
  /** Written into metadata_props `quantization` (e.g. what the ranges were calibrated on). */
  calibration?: string;
}

/** Ops whose weight input is quantised: their activation input and (when quantised) output are uint8. */
const COMPUTE_OPS: ReadonlySet<string> = new Set(['Conv', 'Gemm', 'MatMul']);
/** Ops that move or select values without computing new ones: uint8 through, with their input's parameters. */
const MOVE_OPS: ReadonlySet<string> = new Set(['MaxPool', 'Transpose', 'Flatten', 'Reshape']);

/** An int64 field as decoded by protobufjs (a Long when the long package is present). */
function int(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

function attribute(node: NodeProto, name: string): onnxProto.onnx.IAttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

function intAttribute(node: NodeProto, name: string, fallback: number): number {
  const a = attribute(node, name);
  return a ? int(a.i) : fallback;
}

function floatAttribute(node: NodeProto, name: string, fallback: number): number {
  const a = attribute(node, name);
  return a?.f ?? fallback;
}

/** A FLOAT initializer's values (raw_data little-endian, or float_data). */
function floatsOf(tensor: TensorProto): Float32Array {
  if (tensor.dataType !== FLOAT) throw new UserError(`initializer '${tensor.name}' is not float32`);
  if (tensor.rawData && tensor.rawData.length > 0) {
    const view = new DataView(tensor.rawData.buffer, tensor.rawData.byteOffset, tensor.rawData.byteLength);
    return Float32Array.from({ length: tensor.rawData.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
  }
  return Float32Array.from(tensor.floatData);
}

function int32Bytes(values: ArrayLike<number>): Uint8Array {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setInt32(i * 4, values[i], true);
  return raw;
}

/** The graph with its lookups: who produces each value, who reads it, the initializers by name. */
class GraphView {
  readonly producer = new Map<string, NodeProto>();
  readonly consumers = new Map<string, NodeProto[]>();
  readonly initializers = new Map<string, TensorProto>();
  readonly outputs: Set<string>;
  readonly inputs: Set<string>;

  readonly graph: GraphProto;

  constructor(readonly model: ModelProto) {
    const graph = graphOf(model);
    this.graph = graph;
    for (const t of graph.initializer) this.initializers.set(t.name, t);
    for (const node of graph.node) {
      for (const out of node.output) this.producer.set(out, node);
      for (const input of node.input) {
        if (!this.consumers.has(input)) this.consumers.set(input, []);
        this.consumers.get(input)!.push(node);
      }
    }
    this.outputs = new Set(graph.output.map((o) => o.name));
    this.inputs = new Set(graph.input.map((i) => i.name).filter((name) => !this.initializers.has(name)));
  }

  get nodes(): NodeProto[] {
    return this.graph.node;
  }

  /** A node input that is an initializer of the given rank, or undefined. */
  constant(name: string | undefined, rank?: number): TensorProto | undefined {
    const t = name ? this.initializers.get(name) : undefined;
    return t && t.dataType === FLOAT && (rank === undefined || t.dims.length === rank) ? t : undefined;
  }

  /** Read by this node only, and not a graph output. */
  onlyFeeds(value: string, node: NodeProto): boolean {
    const readers = this.consumers.get(value) ?? [];
    return readers.length === 1 && readers[0] === node && !this.outputs.has(value);
  }
}

function graphOf(model: ModelProto): GraphProto {
  return model.graph as unknown as GraphProto;
}

function decode(bytes: Uint8Array): ModelProto {
  const model = onnx.ModelProto.decode(bytes);
  if (!model.graph) throw new UserError('the ONNX model has no graph');
  return model;
}

function encode(model: ModelProto): Uint8Array {
  const problem = onnx.ModelProto.verify(model);
  if (problem) throw new Error(`the ONNX model does not match onnx.proto: ${problem}`);
  return onnx.ModelProto.encode(model).finish();
}

/**
 * A quantisable Conv / Gemm / MatMul: its weight is a float initializer (Gemm: alpha 1, A not
 * transposed, bias 1-D with beta 1). Returns the axis of the weight's output channels, or undefined.
 */
function weightAxis(view: GraphView, node: NodeProto): number | undefined {
  if (!COMPUTE_OPS.has(node.opType) || node.output.length !== 1) return undefined;
  switch (node.opType) {
    case 'Conv':
      if (!view.constant(node.input[1], 4) || (node.input[2] && !view.constant(node.input[2], 1))) return undefined;
      return 0;
    case 'Gemm':
      if (
        !view.constant(node.input[1], 2) ||
        floatAttribute(node, 'alpha', 1) !== 1 ||
        intAttribute(node, 'transA', 0) !== 0
      )
        return undefined;
      if (node.input[2] && (!view.constant(node.input[2], 1) || floatAttribute(node, 'beta', 1) !== 1))
        return undefined;
      // B is [K, N], or [N, K] when transposed: N, the output channels, is its axis 1 or 0.
      return intAttribute(node, 'transB', 0) === 1 ? 0 : 1;
    default:
      return view.constant(node.input[1], 2) && !node.input[2] ? 1 : undefined;
  }
}

/**
 * Batch normalisation folded into the Conv or Gemm that alone feeds it: weights scaled per
 * output channel by gamma / sqrt(variance + epsilon), the bias made (b - mean) * that + beta, and
 * the BatchNormalization node gone (the Conv / Gemm now writes its output). Any other
 * BatchNormalization stays as it is. Returns the model bytes (the same model when there is none).
 */
export function foldBatchNorms(bytes: Uint8Array): Uint8Array {
  const model = decode(bytes);
  const view = new GraphView(model);
  const g = new GraphBuilder();
  for (const name of view.initializers.keys()) g.unique(name);
  const removed = new Set<NodeProto>();
  for (const bn of view.nodes) {
    if (bn.opType !== 'BatchNormalization' || bn.output.length !== 1) continue;
    const source = view.producer.get(bn.input[0]);
    if (!source || !view.onlyFeeds(bn.input[0], bn)) continue;
    const axis = weightAxis(view, source);
    if (axis === undefined || source.opType === 'MatMul') continue;
    const [gamma, beta, mean, variance] = bn.input.slice(1).map((name) => view.constant(name, 1));
    if (!gamma || !beta || !mean || !variance) continue;
    const epsilon = floatAttribute(bn, 'epsilon', 1e-5);
    const [g0, b0, m0, v0] = [gamma, beta, mean, variance].map(floatsOf);
    const scale = g0.map((s, c) => s / Math.sqrt(v0[c] + epsilon));
    const weight = view.initializers.get(source.input[1])!;
    const dims = weight.dims.map(int);
    const w = floatsOf(weight);
    const channels = dims[axis];
    const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    for (let i = 0; i < w.length; i++) w[i] *= scale[Math.floor(i / inner) % channels];
    const oldBias = source.input[2] ? floatsOf(view.initializers.get(source.input[2])!) : new Float32Array(channels);
    const bias = oldBias.map((b, c) => (b - m0[c]) * scale[c] + b0[c]);
    source.input[1] = g.floats(`${source.input[1]}/folded`, dims, w);
    source.input[2] = g.floats(`${source.name || source.output[0]}/bias_folded`, [channels], bias);
    source.output[0] = bn.output[0];
    removed.add(bn);
  }
  if (removed.size === 0) return bytes;
  view.graph.node = view.nodes.filter((n) => !removed.has(n));
  view.graph.initializer = pruneInitializers([...view.graph.initializer, ...g.initializers], view.graph.node);
  return encode(model);
}

/** The initializers some node reads. */
function pruneInitializers(initializers: TensorProto[], nodes: NodeProto[]): TensorProto[] {
  const read = new Set(nodes.flatMap((n) => n.input));
  return initializers.filter((t) => read.has(t.name));
}

/** What quantisation does with a folded model: the compute nodes it quantises, and each uint8 value's source. */
interface Plan {
  view: GraphView;
  /** Quantised compute nodes → the axis of their weight's output channels. */
  compute: Map<NodeProto, number>;
  /** Every value held as uint8 → the value whose calibrated range sets its parameters. */
  quantized: Map<string, string>;
  /** The calibrated values, in graph order. */
  sources: string[];
}

/**
 * The plan: each quantisable compute node's activation input, followed back through MOVE_OPS to
 * the value that enters that chain (the graph input, a ReLU's output, ...), its source. Every
 * value on the chain is uint8 with the source's parameters.
 */
function plan(model: ModelProto): Plan {
  const view = new GraphView(model);
  const compute = new Map<NodeProto, number>();
  const quantized = new Map<string, string>();
  const sources: string[] = [];
  for (const node of view.nodes) {
    const axis = weightAxis(view, node);
    if (axis === undefined) continue;
    const chain = [node.input[0]];
    let mover = view.producer.get(node.input[0]);
    while (mover && MOVE_OPS.has(mover.opType) && mover.output.length === 1) {
      chain.push(mover.input[0]);
      mover = view.producer.get(mover.input[0]);
    }
    const source = chain[chain.length - 1];
    if (view.initializers.has(source)) continue;
    compute.set(node, axis);
    if (!sources.includes(source)) sources.push(source);
    for (const value of chain) quantized.set(value, source);
  }
  return { view, compute, quantized, sources };
}

/**
 * The values whose ranges a quantisation of this model needs (after batch-norm folding, which
 * keeps these names): the graph input and the activations that enter a quantised Conv / Gemm /
 * MatMul, in graph order.
 */
export function calibrationValues(bytes: Uint8Array): string[] {
  return plan(decode(foldBatchNorms(bytes))).sources;
}

/**
 * The model with `values` also as graph outputs (float32, shape left to the runtime), to measure
 * their ranges; graph inputs among them are left out (measure those on the images themselves).
 */
export function withOutputs(bytes: Uint8Array, values: readonly string[]): Uint8Array {
  const model = decode(bytes);
  const graph = graphOf(model);
  const present = new Set([...graph.output.map((o) => o.name), ...graph.input.map((i) => i.name)]);
  for (const name of values) {
    if (present.has(name)) continue;
    graph.output.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: DataType.FLOAT } } }));
  }
  return encode(model);
}

/** uint8 parameters of a range: it is widened to hold 0 (exact zero padding); a ReLU's [0, max] gets zero point 0. */
export function activationParams({ min, max }: ValueRange): { scale: number; zeroPoint: number } {
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max)
    throw new RangeError(`range [${min}, ${max}] is not a finite interval`);
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  if (hi === lo) return { scale: 1, zeroPoint: 0 };
  const scale = Math.fround((hi - lo) / 255);
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-lo / scale))) };
}

/**
 * Symmetric int8 weights, one scale per slice along `axis` (the output channels): q = round(w / s)
 * with s = max |w| / qmax, so q lies in [-qmax, qmax]. A slice of zeros gets scale 1.
 */
export function quantizeWeights(
  w: Float32Array,
  dims: number[],
  axis: number,
  qmax = 127,
): { q: Int8Array; scales: Float32Array } {
  const channels = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => Math.floor(i / inner) % channels;
  const maxAbs = new Float64Array(channels);
  for (let i = 0; i < w.length; i++) maxAbs[channelOf(i)] = Math.max(maxAbs[channelOf(i)], Math.abs(w[i]));
  const scales = Float32Array.from(maxAbs, (m) => (m > 0 ? m / qmax : 1));
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(-qmax, Math.min(qmax, Math.round(w[i] / scales[channelOf(i)])));
  return { q, scales };
}

/**
 * Quantise a float model written by the converter, with the calibrated ranges of
 * `calibrationValues(bytes)` (every one of them is required), into QDQ form (see the top of this
 * file). The graph's input and output, their names and shapes, and its metadata_props are kept.
 */
export function quantizeOnnx(
  bytes: Uint8Array,
  ranges: ReadonlyMap<string, ValueRange>,
  options: QuantizeOptions = {},
): Uint8Array {
  const weightBits = options.weightBits ?? 7;
  if (weightBits !== 7 && weightBits !== 8)
    throw new UserError(`weights can be quantised to 7 or 8 bits, not ${String(weightBits)}`);
  const qmax = weightBits === 8 ? 127 : 63;
  const model = decode(foldBatchNorms(bytes));
  const { view, compute, quantized, sources } = plan(model);
  if (compute.size === 0) throw new UserError('the ONNX model has no Conv, Gemm or MatMul with weights to quantise');
  const params = new Map(
    sources.map((source) => {
      const range = ranges.get(source);
      if (!range) throw new UserError(`no calibrated range for '${source}'`);
      return [source, activationParams(range)] as const;
    }),
  );
  const g = new GraphBuilder();
  for (const name of [
    ...view.initializers.keys(),
    ...view.producer.keys(),
    ...view.inputs,
    ...view.nodes.map((n) => n.name),
  ])
    g.unique(name);
  const scalar = (value: string) => {
    const { scale, zeroPoint } = params.get(quantized.get(value)!)!;
    return {
      scale: g.floats(`${value}/scale`, [], [scale]),
      zeroPoint: g.tensor(`${value}/zero_point`, [], DataType.UINT8, Uint8Array.of(zeroPoint)),
    };
  };
  /** The uint8 copy of each quantised value, and its scale and zero point initializers. */
  const uint8 = new Map<string, { name: string; scale: string; zeroPoint: string }>();
  const quantize = (value: string) => {
    const { scale, zeroPoint } = scalar(value);
    const name = g.op('QuantizeLinear', [value, scale, zeroPoint], `${value}/quantized`);
    uint8.set(value, { name, scale, zeroPoint });
  };
  const nodes: NodeProto[] = [];
  for (const input of view.inputs) if (quantized.has(input)) quantize(input);
  for (const node of view.nodes) {
    const axis = compute.get(node);
    if (axis !== undefined) quantizeWeightsOf(node, axis, params.get(quantized.get(node.input[0])!)!.scale);
    // Every quantised input is read through a DequantizeLinear of its own (one per reader, as ONNX Runtime's fusions want).
    node.input = node.input.map((name) => {
      const q = uint8.get(name);
      return q ? g.op('DequantizeLinear', [q.name, q.scale, q.zeroPoint], `${name}/dequantized`) : name;
    });
    g.nodes.push(node);
    for (const out of node.output) if (quantized.has(out)) quantize(out);
    nodes.push(...g.nodes.splice(0));
  }
  view.graph.node = nodes;
  view.graph.initializer = pruneInitializers([...view.graph.initializer, ...g.initializers], nodes);
  const quantization = {
    format: 'QDQ',
    weights: `int8 symmetric per output channel, [-${qmax}, ${qmax}]`,
    activations: 'uint8 per tensor, min-max range',
    ...(options.calibration ? { calibration: options.calibration } : {}),
  };
  model.metadataProps = [
    ...model.metadataProps.filter((p) => p.key !== 'quantization'),
    onnx.StringStringEntryProto.create({ key: 'quantization', value: JSON.stringify(quantization) }),
  ];
  model.docString = `${model.docString}; int8-quantised (QDQ: ${quantization.weights} weights, ${quantization.activations} activations)`;
  return encode(model);

  /**
   * The node's weight (and bias) replaced by DequantizeLinear of int8 (int32) initializers. Gemm
   * gets its alpha, beta and transposes written out: ONNX Runtime's Gemm fusion reads beta.
   */
  function quantizeWeightsOf(node: NodeProto, axis: number, inputScale: number): void {
    const weight = view.initializers.get(node.input[1])!;
    const dims = weight.dims.map(int);
    const { q, scales } = quantizeWeights(floatsOf(weight), dims, axis, qmax);
    const channels = dims[axis];
    const perChannel = { axis };
    const wScale = g.floats(`${weight.name}/scale`, [channels], scales);
    const wZero = g.tensor(`${weight.name}/zero_point`, [channels], DataType.INT8, new Uint8Array(channels));
    const wInt8 = g.tensor(`${weight.name}/int8`, dims, DataType.INT8, new Uint8Array(q.buffer));
    node.input[1] = g.op('DequantizeLinear', [wInt8, wScale, wZero], `${weight.name}/dequantized`, perChannel);
    if (node.input[2]) {
      const bias = floatsOf(view.initializers.get(node.input[2])!);
      const biasScales = scales.map((s) => Math.fround(s * inputScale));
      const q32 = Array.from(bias, (b, c) =>
        Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(b / biasScales[c]))),
      );
      const bScale = g.floats(`${node.input[2]}/scale`, [channels], biasScales);
      const bInt32 = g.tensor(`${node.input[2]}/int32`, [channels], DataType.INT32, int32Bytes(q32));
      node.input[2] = g.op('DequantizeLinear', [bInt32, bScale], `${node.input[2]}/dequantized`, { axis: 0 });
    }
    if (node.opType === 'Gemm') {
      const transB = intAttribute(node, 'transB', 0);
      node.attribute = node.attribute.filter((a) => !['alpha', 'beta', 'transA', 'transB'].includes(a.name ?? ''));
      node.attribute.push(
        onnx.AttributeProto.create({ name: 'alpha', type: onnx.AttributeProto.AttributeType.FLOAT, f: 1 }),
        onnx.AttributeProto.create({ name: 'beta', type: onnx.AttributeProto.AttributeType.FLOAT, f: 1 }),
        onnx.AttributeProto.create({ name: 'transA', type: onnx.AttributeProto.AttributeType.INT, i: 0 }),
        onnx.AttributeProto.create({ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: transB }),
      );
    }
  }
}
