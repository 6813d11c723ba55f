import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { loadModel, saveModel } from './io.js';
import { MODEL_FILE } from './model-files.js';
import { readMetadata, resolveRunDir, RUN_FILES, writeMetadata, type RunMetadata } from './run.js';

const ENSEMBLE_ARCH = 'ensemble';

type LayerClass = new (args: tf.serialization.ConfigDict) => tf.layers.Layer;

function shapeText(shape: tf.Shape): string {
  return `[${shape.map((d) => d ?? 'null').join(', ')}]`;
}

/** Every member must take the first member's input shape to its output shape: name the one that does not. */
function checkSameShapes(members: tf.LayersModel[], names: string[]): void {
  const [first] = members;
  const input = shapeText(first.inputs[0].shape);
  const output = shapeText(first.outputs[0].shape);
  members.forEach((member, k) => {
    if (member.inputs.length !== 1 || member.outputs.length !== 1) {
      throw new UserError(
        `${names[k]}: has ${member.inputs.length} inputs and ${member.outputs.length} outputs; an ensemble member needs one of each`,
      );
    }
    const memberInput = shapeText(member.inputs[0].shape);
    const memberOutput = shapeText(member.outputs[0].shape);
    if (memberInput !== input || memberOutput !== output) {
      throw new UserError(
        `${names[k]}: takes ${memberInput} to ${memberOutput}, but ${names[0]} takes ${input} to ${output}: ensemble members must share input and output shapes`,
      );
    }
  });
}

/**
 * Re-create `member`'s layers on `input`, each named `prefix` + its name, with the member's
 * weights (copied: the ensemble owns its own). A flat copy rather than the member nested as one
 * layer: tfjs-layers 4.22 refuses two nested models of one architecture (both named 'default'),
 * and saves nested weights under the inner layers' own names, so two members loaded from run
 * folders (both 'conv2d_Conv2D1/kernel', ...) save but fail to load ("Duplicate weight name").
 */
function copyMemberLayers(member: tf.LayersModel, input: tf.SymbolicTensor, prefix: string): tf.SymbolicTensor {
  // Each of the member's tensors → the tensor the copy computes in its place.
  const copies = new Map<number, tf.SymbolicTensor>([[member.inputs[0].id, input]]);
  for (const layer of member.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    if (layer.inboundNodes.length !== 1)
      throw new Error(
        `layer ${layer.name} is applied ${layer.inboundNodes.length} times: shared layers cannot be copied into an ensemble`,
      );
    const node = layer.inboundNodes[0];
    const inputs = node.inputTensors.map((t) => {
      const copy = copies.get(t.id);
      if (!copy) throw new Error(`layer ${layer.name} takes a tensor from outside the model`);
      return copy;
    });
    const config: tf.serialization.ConfigDict = { ...layer.getConfig(), name: `${prefix}${layer.name}` };
    // Only the first layer of a Sequential carries one; the ensemble's own Input sets the shape.
    delete config.batchInputShape;
    const copy = new (layer.constructor as LayerClass)(config);
    const outputs = copy.apply(inputs.length === 1 ? inputs[0] : inputs) as tf.SymbolicTensor | tf.SymbolicTensor[];
    copy.setWeights(layer.getWeights());
    const outs = Array.isArray(outputs) ? outputs : [outputs];
    node.outputTensors.forEach((t, i) => copies.set(t.id, outs[i]));
  }
  const output = copies.get(member.outputs[0].id);
  if (!output) throw new Error('the model output is not computed by its layers');
  return output;
}

/**
 * One model computing the mean of the members' outputs (their softmax probabilities): a plain
 * functional LayersModel, so predict, serve, evaluate and saveModel/loadModel take it as they
 * take any model. The members are left as they are (the caller disposes them).
 */
export function ensembleModel(
  members: tf.LayersModel[],
  names: string[] = members.map((m, k) => `member ${k + 1} (${m.name})`),
): tf.LayersModel {
  if (members.length === 0) throw new UserError('an ensemble needs at least one model');
  checkSameShapes(members, names);
  const input = tf.input({ shape: members[0].inputs[0].shape.slice(1), name: 'image' });
  const outputs = members.map((member, k) => copyMemberLayers(member, input, `m${k + 1}_`));
  const mean =
    outputs.length === 1
      ? outputs[0]
      : (tf.layers.average({ name: 'probabilities' }).apply(outputs) as tf.SymbolicTensor);
  return tf.model({ name: ENSEMBLE_ARCH, inputs: input, outputs: mean });
}

/** What running an ensemble needs to agree on: dataset, class names and preprocessing. */
function checkCompatible(first: RunMetadata, firstDir: string, meta: RunMetadata, dir: string): void {
  const differs = (what: string, a: unknown, b: unknown) =>
    new UserError(
      `${dir}: ${what} ${JSON.stringify(b)} differs from ${firstDir}'s ${JSON.stringify(a)}: ensemble members must share it`,
      join(dir, RUN_FILES.metadata),
    );
  if (meta.data?.dataset !== first.data?.dataset) throw differs('dataset', first.data?.dataset, meta.data?.dataset);
  if (JSON.stringify(meta.classNames) !== JSON.stringify(first.classNames))
    throw differs('class names', first.classNames, meta.classNames);
  if (JSON.stringify(meta.preprocessing) !== JSON.stringify(first.preprocessing))
    throw differs('preprocessing', first.preprocessing, meta.preprocessing);
}

/** Refuse an --out that already holds a run (or any model): an ensemble never overwrites one. */
function checkFreeOutDir(outDir: string): void {
  for (const file of [RUN_FILES.metadata, MODEL_FILE]) {
    const path = join(outDir, file);
    if (existsSync(path))
      throw new UserError(`${outDir} already holds a run (${path} exists): choose another --out`, path);
  }
}

/** The members' val-indices.json when all of them have the same one, else undefined. */
async function sharedValIndices(dirs: string[]): Promise<string | undefined> {
  const texts = await Promise.all(
    dirs.map(async (dir) => {
      const path = join(dir, RUN_FILES.valIndices);
      return existsSync(path) ? readFile(path, 'utf8') : undefined;
    }),
  );
  return texts.every((text) => text !== undefined && text === texts[0]) ? texts[0] : undefined;
}

function ensembleMetadata(metas: RunMetadata[], dirs: string[], params: number): RunMetadata {
  const [first] = metas;
  const now = new Date().toISOString();
  // The first member's record, less what described its training alone (its test figures and
  // temperature, and the sets fitted at it: the mean of the members is calibrated on its own, by `ensemble` after this).
  const {
    test: _test,
    temperature: _temperature,
    temperatureFit: _fit,
    nonDigitRule: _rule,
    predictionSets: _sets,
    ...rest
  } = first;
  return {
    ...rest,
    arch: ENSEMBLE_ARCH,
    params,
    createdAt: now,
    finishedAt: now,
    trainingSeconds: metas.reduce((sum, m) => sum + (m.trainingSeconds ?? 0), 0),
    members: dirs,
    memberSeeds: metas.map((m) => m.seed),
    ...ensembleNonDigitRule(metas),
  };
}

/**
 * The not-a-digit rule an ensemble starts with when its members all have one: the lowest of their
 * thresholds (the one that refuses fewest digits), with that member's validation rates. Only a
 * stand-in: the mean of the members' probabilities has a not-a-digit score distribution of its own, so
 * `mnist-cnn ensemble` refits the threshold on the members' shared validation split, after the
 * temperature (evaluate/evaluate.ts `calibrateRun`). It stays when the members held out different
 * images (their `temperatureFit` then says so too); none when a member has no rule.
 */
function ensembleNonDigitRule(metas: RunMetadata[]): Pick<RunMetadata, 'nonDigitRule'> {
  const rules = metas.map((m) => m.nonDigitRule);
  if (rules.some((r) => r === undefined)) return {};
  return { nonDigitRule: rules.reduce((a, b) => (b!.below < a!.below ? b : a)) };
}

export interface EnsembleRun {
  dir: string;
  metadata: RunMetadata;
}

/**
 * Average the models of two or more run folders into a new run folder `outDir`: model.json +
 * weights.bin of the ensemble, metadata.json (the first member's, with arch 'ensemble', the
 * members' parameters summed, `members` and `memberSeeds`), config.json copied from the first
 * member, and val-indices.json when every member held out the same images. The result is for
 * evaluate, predict and serve; it has no checkpoint to resume training from. It has no
 * temperature yet (T = 1) and at most a stand-in not-a-digit rule: `mnist-cnn ensemble` then
 * fits the ensemble's own temperature and threshold on that validation split
 * (evaluate/evaluate.ts `calibrateRun`; inference is above this layer). The backend must
 * be started first.
 */
export async function buildEnsembleRun(runDirs: string[], outDir: string): Promise<EnsembleRun> {
  if (runDirs.length < 2) throw new UserError(`an ensemble needs at least 2 runs, got ${runDirs.length}`);
  const dirs = runDirs.map((dir) => resolveRunDir(dir));
  const out = resolve(outDir);
  checkFreeOutDir(out);
  const metas = await Promise.all(dirs.map((dir) => readMetadata(dir)));
  metas.forEach((meta, k) => checkCompatible(metas[0], dirs[0], meta, dirs[k]));
  const members: tf.LayersModel[] = [];
  let ensemble: tf.LayersModel | undefined;
  try {
    for (const dir of dirs) members.push(await loadModel(dir));
    ensemble = ensembleModel(members, dirs);
    const metadata = ensembleMetadata(metas, dirs, ensemble.countParams());
    const configPath = join(dirs[0], RUN_FILES.config);
    if (!existsSync(configPath))
      throw new UserError(`${configPath} is missing: ${dirs[0]} is not a complete run folder`, configPath);
    const config = await readFile(configPath);
    await saveModel(ensemble, out);
    await writeFileAtomic(join(out, RUN_FILES.config), config);
    const valIndices = await sharedValIndices(dirs);
    if (valIndices !== undefined) await writeFileAtomic(join(out, RUN_FILES.valIndices), valIndices);
    // Last: a folder with metadata.json is a complete run.
    await writeMetadata(out, metadata);
    return { dir: out, metadata };
  } finally {
    for (const member of members) member.dispose();
    ensemble?.dispose();
  }
}
