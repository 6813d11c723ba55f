// The container and Kubernetes files against the Kubernetes API schemas and against the server
// itself: every probe path and the image's HEALTHCHECK path must be routes the server registers,
// and the port that the Dockerfile passes to `serve` must be the one that the Deployment, its
// probes and the Service point at. The image itself is built and run by
// scripts/container-smoke.sh (it needs podman and root).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Service } from 'kubernetes-models/v1/Service';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Command } from 'commander';
import { registerEnsemble } from '../../src/cli/commands/ensemble.js';
import { registerEvaluate } from '../../src/cli/commands/evaluate.js';
import { registerTrain } from '../../src/cli/commands/train.js';
import { buildApp } from '../../src/serve/app.js';
import { DEFAULT_DRAIN_TIMEOUT_MS } from '../../src/serve/server.js';
import { Predictor } from '../../src/predict/predictor.js';
import { quickRunDir } from '../helpers/quick-run.js';

const MANIFEST_DIR = resolve('deploy', 'kubernetes');
const BEST_RECIPE_DIR = join(MANIFEST_DIR, 'best-recipe');
const DOCKERFILE = resolve('Dockerfile');

// ---- reading the files ------------------------------------------------------------------------

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Every YAML document in a folder (deploy/kubernetes/ unless told), with the file it came from. */
function readManifests(dir = MANIFEST_DIR): { file: string; doc: Manifest }[] {
  const files = readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort();
  assert.ok(files.length > 0, `no YAML files in ${dir}`);
  return files.flatMap((file) =>
    parseAllDocuments(readFileSync(join(dir, file), 'utf8')).flatMap((document) => {
      assert.deepEqual(document.errors, [], `${file}: YAML errors`);
      const doc = document.toJS() as Manifest | null;
      return doc === null ? [] : [{ file, doc }];
    }),
  );
}

const manifests = readManifests();
const clusterObjects = manifests.filter(({ doc }) => doc.kind !== 'Kustomization');

function only(kind: string): Manifest {
  const found = clusterObjects.filter(({ doc }) => doc.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind} in ${MANIFEST_DIR}`);
  return found[0].doc;
}

// Just the fields these tests read; the schemas check the rest.
interface Probe {
  httpGet?: { path?: string; port?: number | string };
}
interface Container {
  name: string;
  image?: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  lifecycle?: { preStop?: { exec?: { command?: string[] } } };
}
interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: { containers: Container[]; terminationGracePeriodSeconds?: number };
}

const deployment = only('Deployment');
const deploymentSpec = deployment.spec as {
  replicas?: number;
  selector: { matchLabels: Record<string, string> };
  template: PodTemplate;
};
const podTemplate = deploymentSpec.template;
const server =
  podTemplate.spec.containers.find((c) => c.name === 'server') ??
  assert.fail('no container named "server" in the Deployment');

/** The Dockerfile's instructions, comments dropped and continuation lines joined. */
function readDockerfile(): { instruction: string; rest: string }[] {
  const text = readFileSync(DOCKERFILE, 'utf8')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [instruction] = line.split(/\s+/);
      return { instruction: instruction.toUpperCase(), rest: line.slice(instruction.length).trim() };
    });
}

const dockerfile = readDockerfile();
function dockerInstruction(name: string): string {
  const found = dockerfile.filter((i) => i.instruction === name);
  assert.equal(found.length, 1, `exactly one ${name} in the Dockerfile`);
  return found[0].rest;
}

const entrypoint: string[] = JSON.parse(dockerInstruction('ENTRYPOINT'));
const flag = (args: string[], name: string) => {
  const at = args.lastIndexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
/** The port the image's server listens on: what the Dockerfile passes to `serve`. */
const imagePort = Number(flag(entrypoint, '--port'));

const healthcheck = dockerInstruction('HEALTHCHECK');
const healthcheckUrl =
  /https?:\/\/(?:127\.0\.0\.1|localhost):(\d+)(\/[^'"\s,)]*)/.exec(healthcheck) ??
  assert.fail(`no local URL in HEALTHCHECK ${healthcheck}`);
const [, healthcheckPort, healthcheckPath] = healthcheckUrl;

/** A port as a probe or Service names it (a number, or the name of one of the container's ports). */
function containerPort(port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return server.ports?.find((p) => p.name === port)?.containerPort;
}

/** Kubernetes quantities as numbers: CPU in cores, memory in bytes. */
function quantity(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|k|M|G)?$/.exec(String(value)) ?? assert.fail(`quantity ${value}`);
  const unit = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, k: 1e3, M: 1e6, G: 1e9 }[match[2] ?? ''] ?? 1;
  return Number(match[1]) * unit;
}

// ---- validation ---------------------------------------------------------------------------

type Validate = (doc: Manifest) => void;
// kubernetes-models compiles the Kubernetes OpenAPI schemas: validate() throws on a wrong type, a
// missing required field or a malformed quantity.
const SCHEMAS: Record<string, Validate> = {
  'apps/v1 Deployment': (doc) => new Deployment(doc as ConstructorParameters<typeof Deployment>[0]).validate(),
  'v1 Service': (doc) => new Service(doc).validate(),
  'autoscaling/v2 HorizontalPodAutoscaler': (doc) =>
    new HorizontalPodAutoscaler(doc as ConstructorParameters<typeof HorizontalPodAutoscaler>[0]).validate(),
  'policy/v1 PodDisruptionBudget': (doc) => new PodDisruptionBudget(doc).validate(),
  'batch/v1 Job': (doc) => new Job(doc as ConstructorParameters<typeof Job>[0]).validate(),
  'v1 PersistentVolumeClaim': (doc) => new PersistentVolumeClaim(doc).validate(),
};

/**
 * The schema, and what it leaves to the API server or the kubelet: the schema lets a container
 * go without an image (higher-level tools may fill it in), which here would only fail at
 * deploy time.
 */
function validateManifest(doc: Manifest): void {
  const schema = SCHEMAS[`${doc.apiVersion} ${doc.kind}`];
  if (!schema) throw new Error(`${doc.apiVersion} ${doc.kind}: no schema known to this test`);
  schema(doc);
  const containers = (doc.spec as { template?: PodTemplate } | undefined)?.template?.spec.containers ?? [];
  for (const [i, container] of containers.entries()) {
    if (!container.image) throw new Error(`spec.template.spec.containers[${i}] (${container.name}) has no image`);
  }
}

test('every manifest in deploy/kubernetes is valid against the Kubernetes schemas', () => {
  assert.deepEqual(clusterObjects.map(({ doc }) => doc.kind).sort(), [
    'Deployment',
    'HorizontalPodAutoscaler',
    'PodDisruptionBudget',
    'Service',
  ]);
  for (const { file, doc } of clusterObjects) {
    assert.doesNotThrow(() => validateManifest(doc), `${file}: ${doc.kind} ${doc.metadata?.name}`);
  }
});

test('a broken manifest fails validation', () => {
  const broken = (change: (copy: Manifest) => void) => {
    const copy = structuredClone(deployment);
    change(copy);
    return copy;
  };
  const container = (doc: Manifest) =>
    (doc.spec as { template: PodTemplate }).template.spec.containers[0] as unknown as Record<string, unknown>;
  assert.throws(
    () => validateManifest(broken((d) => ((container(d).ports as Record<string, unknown>[])[0].containerPort = 'abc'))),
    /containerPort must be integer/,
  );
  assert.throws(() => validateManifest(broken((d) => delete container(d).image)), /has no image/);
  assert.throws(
    () => validateManifest(broken((d) => delete (d.spec as Record<string, unknown>).selector)),
    /required property selector/,
  );
  assert.throws(
    () =>
      validateManifest(
        broken((d) => ((container(d).resources as Record<string, Record<string, string>>).limits.memory = 'lots')),
      ),
    /memory/,
  );
  const service = structuredClone(only('Service'));
  (service.spec as { ports: Record<string, unknown>[] }).ports[0].port = 'abc';
  assert.throws(() => validateManifest(service), /port must be integer/);
  assert.throws(() => validateManifest({ ...structuredClone(deployment), apiVersion: 'apps/v1beta1' }), /no schema/);
});

test('kustomization.yaml lists every manifest', () => {
  const kustomization = manifests.find(({ doc }) => doc.kind === 'Kustomization');
  assert.ok(kustomization, 'deploy/kubernetes/kustomization.yaml');
  assert.equal(kustomization.doc.apiVersion, 'kustomize.config.k8s.io/v1beta1');
  const files = [...new Set(clusterObjects.map(({ file }) => file))].sort();
  assert.deepEqual([...(kustomization.doc.resources as string[])].sort(), files);
});

// ---- the build context -----------------------------------------------------------------------

test('every file the Dockerfile copies from the build context passes .dockerignore and exists', () => {
  // .dockerignore is an allowlist: `*`, then `!path` for each file or folder the build copies.
  // A COPY of a file left out fails only inside `podman build`, which npm test does not run.
  const allowed = readFileSync(resolve('.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('!'))
    .map((line) => line.slice(1).replace(/\/$/, ''));
  const sources = dockerfile
    .filter((i) => i.instruction === 'COPY' && !/--from=/.test(i.rest))
    .flatMap((i) =>
      i.rest
        .split(/\s+/)
        .filter((word) => !word.startsWith('--'))
        .slice(0, -1),
    );
  assert.ok(
    sources.includes('package.json') && sources.some((s) => s.startsWith('scripts/')),
    `COPY sources read: ${sources.join(' ')}`,
  );
  for (const source of sources) {
    const path = source.replace(/\/$/, '');
    assert.ok(
      allowed.some((a) => path === a || path.startsWith(`${a}/`)),
      `${source} is copied by the Dockerfile but .dockerignore leaves it out`,
    );
    assert.ok(existsSync(resolve(path)), `${source} is copied by the Dockerfile but does not exist`);
  }
});

// ---- ports --------------------------------------------------------------------------------

test('the Dockerfile serves on one port, on all addresses only inside the container', () => {
  assert.deepEqual(entrypoint.slice(0, 3), ['node', '/app/bin/mnist-cnn.js', 'serve']);
  assert.ok(Number.isInteger(imagePort) && imagePort > 0, `--port in ENTRYPOINT ${JSON.stringify(entrypoint)}`);
  // The image binds every address by flag; the CLI's own default stays 127.0.0.1.
  assert.equal(flag(entrypoint, '--host'), '0.0.0.0');
  assert.deepEqual(JSON.parse(dockerInstruction('CMD')), ['/models']);
  assert.equal(Number(dockerInstruction('EXPOSE')), imagePort);
  assert.equal(Number(healthcheckPort), imagePort, 'the HEALTHCHECK asks the port the server listens on');
  const user = dockerfile.filter((i) => i.instruction === 'USER').map((i) => i.rest);
  assert.ok(
    user.length > 0 && user.every((u) => /^[1-9]\d*(:\d+)?$/.test(u)),
    `USER is a numeric non-root user: ${user.join(', ')}`,
  );
  assert.ok(
    dockerfile.some((i) => i.instruction === 'RUN' && /npm ci --omit=dev/.test(i.rest)),
    'production dependencies by npm ci --omit=dev',
  );
});

test('the Deployment, its probes, its metrics annotation and the Service use the image port', () => {
  assert.deepEqual(
    server.args?.slice(0, 1),
    JSON.parse(dockerInstruction('CMD')),
    'the Deployment serves the model at /models, as the image does',
  );
  assert.equal(containerPort('http'), imagePort, 'the container port named http');
  for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe'] as const) {
    assert.equal(containerPort(server[probe]?.httpGet?.port), imagePort, `${probe} port`);
  }
  assert.equal(podTemplate.metadata.annotations?.['prometheus.io/port'], String(imagePort));
  const service = only('Service').spec as {
    selector: Record<string, string>;
    ports: { targetPort: number | string }[];
  };
  assert.equal(service.ports.length, 1);
  assert.equal(containerPort(service.ports[0].targetPort), imagePort, 'the Service targetPort');
  for (const [key, value] of Object.entries(service.selector))
    assert.equal(podTemplate.metadata.labels[key], value, `Service selector ${key}`);
});

// ---- the rest of the wiring ---------------------------------------------------------------

test('the Deployment selects its pods, leaves the count to the HPA and drains gracefully', () => {
  for (const [key, value] of Object.entries(deploymentSpec.selector.matchLabels))
    assert.equal(podTemplate.metadata.labels[key], value, `selector ${key}`);
  assert.equal(deploymentSpec.replicas, undefined, 'no replicas: the HPA owns the count');
  assert.equal(server.readinessProbe?.httpGet?.path, '/readyz');
  assert.equal(server.livenessProbe?.httpGet?.path, '/healthz');
  assert.equal(
    server.image?.includes(':') && !server.image.endsWith(':latest'),
    true,
    `image ${server.image} has a fixed tag`,
  );
  // The server's own drain delay (readiness 503, requests still answered) covers the endpoints'
  // removal: no preStop sleep before SIGTERM as well.
  const args = server.args ?? [];
  const delay = Number(flag(args, '--drain-delay'));
  assert.ok(
    delay >= 3,
    `--drain-delay ${flag(args, '--drain-delay')}: a few seconds for kube-proxy and load balancers to follow`,
  );
  assert.equal(server.lifecycle?.preStop, undefined, 'no preStop sleep on top of the drain delay');
  const drainTimeout = Number(flag(args, '--drain-timeout') ?? DEFAULT_DRAIN_TIMEOUT_MS / 1000);
  const grace = podTemplate.spec.terminationGracePeriodSeconds ?? 30;
  assert.ok(
    grace >= delay + drainTimeout + 5,
    `terminationGracePeriodSeconds ${grace} covers the ${delay} s drain delay and the ${drainTimeout} s drain timeout, with margin`,
  );
  const { requests = {}, limits = {} } = server.resources ?? {};
  for (const resource of ['cpu', 'memory']) {
    assert.ok(requests[resource] && limits[resource], `${resource} request and limit`);
    assert.ok(
      quantity(requests[resource]) <= quantity(limits[resource]),
      `${resource} request ${requests[resource]} <= limit ${limits[resource]}`,
    );
  }
  // The node: 2 cores, 24 GiB.
  assert.ok(quantity(limits.cpu) <= 2 && quantity(limits.memory) <= 24 * 2 ** 30, 'limits fit the node');
});

test('the HPA scales the Deployment on CPU and the PDB covers its pods', () => {
  const hpa = only('HorizontalPodAutoscaler').spec as {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicas: number;
    maxReplicas: number;
    metrics: { type: string; resource?: { name: string } }[];
  };
  assert.deepEqual(hpa.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata?.name });
  assert.ok(
    hpa.metrics.some((m) => m.type === 'Resource' && m.resource?.name === 'cpu'),
    'a CPU metric',
  );
  // CPU utilization is a share of the request: without one the HPA cannot compute it.
  assert.ok(server.resources?.requests?.cpu, 'the container requests CPU');
  assert.ok(
    hpa.minReplicas >= 2 && hpa.maxReplicas >= hpa.minReplicas,
    'at least two replicas, so that the PDB can let one go',
  );
  const pdb = only('PodDisruptionBudget').spec as { selector: { matchLabels: Record<string, string> } };
  for (const [key, value] of Object.entries(pdb.selector.matchLabels))
    assert.equal(podTemplate.metadata.labels[key], value, `PDB selector ${key}`);
});

// ---- the server's routes ------------------------------------------------------------------

let app: FastifyInstance;
let predictor: Predictor;

before(async () => {
  // The app the CLI serves, built around a trained run (shared with the other tests' cache).
  predictor = await Predictor.load(await quickRunDir());
  app = await buildApp({ predictor });
  await app.ready();
});

after(async () => {
  await app?.close();
  await predictor.close();
});

async function assertRoute(path: string, what: string, statuses = [200]) {
  assert.ok(app.hasRoute({ method: 'GET', url: path }), `${what}: the server has no GET ${path}`);
  const response = await app.inject({ method: 'GET', url: path });
  assert.ok(statuses.includes(response.statusCode), `${what}: GET ${path} answered ${response.statusCode}`);
}

test('the liveness and startup probe paths and the HEALTHCHECK path are routes of the server', async () => {
  await assertRoute(server.livenessProbe?.httpGet?.path ?? '(none)', 'livenessProbe');
  await assertRoute(server.startupProbe?.httpGet?.path ?? '(none)', 'startupProbe');
  await assertRoute(healthcheckPath, 'the Dockerfile HEALTHCHECK');
});

test('the readiness probe path is a route of the server', async () => {
  // 200 once the model is loaded and warmed, 503 while starting and draining; an app built here
  // without a listening server may be either.
  await assertRoute(server.readinessProbe?.httpGet?.path ?? '(none)', 'readinessProbe', [200, 503]);
});

// ---- the best recipe as batch Jobs (deploy/kubernetes/best-recipe) -----------------------

const bestRecipe = readManifests(BEST_RECIPE_DIR);
const bestObjects = bestRecipe.filter(({ doc }) => doc.kind !== 'Kustomization');
const jobNamed = (name: string) =>
  bestObjects.find(({ doc }) => doc.kind === 'Job' && doc.metadata?.name === name)?.doc ??
  assert.fail(`no Job ${name} in ${BEST_RECIPE_DIR}`);
const membersJob = jobNamed('mnist-cnn-best-members');
const ensembleJob = jobNamed('mnist-cnn-best-ensemble');

interface JobPod {
  initContainers?: (Container & { args?: string[]; volumeMounts?: { name: string; mountPath: string }[] })[];
  containers: (Container & {
    args?: string[];
    command?: string[];
    volumeMounts?: { name: string; mountPath: string }[];
  })[];
  volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[];
}
const podOf = (job: Manifest) => (job.spec as { template: { spec: JobPod } }).template.spec;
const scriptOf = (container: { command?: string[]; args?: string[] }) =>
  [...(container.command ?? []), ...(container.args ?? [])].join(' ');

/** The `mnist-cnn.js <command> ...` lines of a container's script, as argument lists. */
function cliCalls(script: string): string[][] {
  return [...script.matchAll(/mnist-cnn\.js ([^\n]+)/g)].map((m) => m[1].trim().split(/\s+/));
}

/** Every --flag of a CLI call is an option of that command (so a renamed flag fails here, not in a cluster). */
function assertKnownFlags(call: string[]): void {
  const program = new Command();
  registerTrain(program);
  registerEnsemble(program);
  registerEvaluate(program);
  const command = program.commands.find((c) => c.name() === call[0]) ?? assert.fail(`no command ${call[0]}`);
  for (const flag of call.filter((arg) => arg.startsWith('--'))) {
    assert.ok(
      command.options.some((o) => o.long === flag),
      `${call[0]} has no option ${flag}`,
    );
  }
}

test('the best recipe Jobs and their volume are valid against the Kubernetes schemas, and their kustomization lists them', () => {
  assert.deepEqual(bestObjects.map(({ doc }) => doc.kind).sort(), ['Job', 'Job', 'PersistentVolumeClaim']);
  for (const { file, doc } of bestObjects)
    assert.doesNotThrow(() => validateManifest(doc), `${file}: ${doc.kind} ${doc.metadata?.name}`);
  const kustomization =
    bestRecipe.find(({ doc }) => doc.kind === 'Kustomization') ?? assert.fail('best-recipe/kustomization.yaml');
  assert.deepEqual(
    [...(kustomization.doc.resources as string[])].sort(),
    [...new Set(bestObjects.map(({ file }) => file))].sort(),
  );
  // The server's kustomization does not start training.
  const serverKustomization = manifests.find(({ doc }) => doc.kind === 'Kustomization')!;
  assert.ok(!(serverKustomization.doc.resources as string[]).some((r) => r.includes('best-recipe')));
});

test('the members are one Indexed Job: one `train --preset best` per index, seeds 1..N, each resuming its own run folder', () => {
  const spec = membersJob.spec as { completionMode: string; completions: number; parallelism: number };
  assert.equal(spec.completionMode, 'Indexed');
  assert.equal(spec.parallelism, spec.completions, 'all members side by side');
  const script = scriptOf(podOf(membersJob).containers[0]);
  assert.match(script, /seed=\$\(\(JOB_COMPLETION_INDEX \+ 1\)\)/);
  assert.match(script, /run=\/runs\/best-\$seed/);
  const calls = cliCalls(script);
  const fresh = calls.find((c) => c[0] === 'train' && c.includes('--preset')) ?? assert.fail('no fresh train call');
  assert.deepEqual(
    [fresh[fresh.indexOf('--preset') + 1], fresh[fresh.indexOf('--seed') + 1], fresh[fresh.indexOf('--out') + 1]],
    ['best', '"$seed"', '"$run"'],
  );
  const resumed =
    calls.find((c) => c[0] === 'train' && c.includes('--resume')) ?? assert.fail('no resuming train call');
  assert.equal(resumed[resumed.indexOf('--resume') + 1], '"$run"');
  assert.match(script, /if \[ -d "\$run\/checkpoints\/last" \]/, 'resumes when a checkpoint exists');
  calls.forEach(assertKnownFlags);
});

test('the ensemble Job waits for exactly the members the Indexed Job trains, then joins and evaluates them on the same volume', () => {
  const completions = (membersJob.spec as { completions: number }).completions;
  const members = Array.from({ length: completions }, (_, i) => `/runs/best-${i + 1}`);
  const pod = podOf(ensembleJob);
  const wait = scriptOf(pod.initContainers?.[0] ?? assert.fail('no init container waiting for the members'));
  assert.deepEqual(
    [...wait.matchAll(/\/runs\/best-\d+\.done/g)].map((m) => m[0]),
    members.map((m) => `${m}.done`),
  );
  assert.match(scriptOf(podOf(membersJob).containers[0]), /touch "\$run\.done"/, 'a member marks itself done');
  const calls = cliCalls(scriptOf(pod.containers[0]));
  const ensemble = calls.find((c) => c[0] === 'ensemble') ?? assert.fail('no ensemble call');
  assert.deepEqual(ensemble.slice(1, 1 + completions), members);
  const evaluate = calls.find((c) => c[0] === 'evaluate') ?? assert.fail('no evaluate call');
  assert.equal(evaluate[1], ensemble[ensemble.indexOf('--out') + 1]);
  assert.ok(evaluate.includes('--tta'));
  calls.forEach(assertKnownFlags);
  // One claim, mounted at /runs by every container of both Jobs.
  const claim = bestObjects.find(({ doc }) => doc.kind === 'PersistentVolumeClaim')!.doc;
  assert.deepEqual((claim.spec as { accessModes: string[] }).accessModes, ['ReadWriteMany']);
  for (const job of [membersJob, ensembleJob]) {
    const volume =
      podOf(job).volumes?.find((v) => v.persistentVolumeClaim) ?? assert.fail(`${job.metadata?.name}: no claim`);
    assert.equal(volume.persistentVolumeClaim?.claimName, claim.metadata?.name);
    for (const container of [...(podOf(job).initContainers ?? []), ...podOf(job).containers]) {
      assert.ok(
        container.volumeMounts?.some((m) => m.name === volume.name && m.mountPath === '/runs'),
        `${container.name} mounts the runs at /runs`,
      );
    }
  }
});
