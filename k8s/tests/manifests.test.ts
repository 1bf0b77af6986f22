/**
 * The Kubernetes manifests, checked offline against the Kubernetes and CRD schemas and against the
 * code they deploy: every overlay is built with kustomize, and for every overlay
 * - every object is valid (kubernetes-models schemas and types: k8s/validate.ts);
 * - every service of the workspace has its Deployment, Service, ConfigMap, ServiceAccount, HPA, PDB,
 *   ServiceMonitor and NetworkPolicy;
 * - each container sets exactly the settings its code reads (the gateway's `*Env` objects, each
 *   subgraph's platform and declared settings, direct `process.env` reads), every required one
 *   included, with values the code accepts;
 * - probes and scrapes use paths the services serve;
 * - Kafka topics are the ones the code uses, databases and traffic are isolated per service, and the
 *   monitoring objects equal what observability/ generates.
 * Needs kustomize: `bash scripts/ensure-kustomize.sh`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import express from 'express';
import { parse } from 'yaml';
import { defaultDeadLetterTopic, env as envParsers, mountOperationalRoutes, standaloneEnv } from '@shop/platform';
import * as events from '@shop/events';
import type { Container, Deployment, EnvSource, LabelSelector, NetworkPolicy, NetworkPolicyPeer } from '../lib/inspect';
import { containerEnv, describePeer, find, ingressRulesFor, ofKind, selects } from '../lib/inspect';
import type { K8sObject } from '../lib/kustomize';
import { REPO_ROOT, buildOverlay, describe as describeObject, overlays } from '../lib/kustomize';
import { OUTPUT_DIR, renderMonitoring } from '../lib/monitoring';
import type { ServiceWorkspace } from '../lib/workspace';
import { directEnvReads, runtimeSourceDirs, serviceWorkspaces } from '../lib/workspace';

/** A zod schema, as far as these checks need one. */
interface Setting {
  safeParse(value: unknown): { success: boolean; data?: unknown; error?: { issues: Array<{ message: string }> } };
}

/**
 * Settings the code requires in production although their schema makes them optional (outside
 * production a development default is used). Keep in step with the code; a test below fails when a
 * name here is no longer one of the service's settings.
 */
const REQUIRED_IN_PRODUCTION: Readonly<Record<string, readonly string[]>> = {
  // packages/platform/src/pii-cipher.ts: the published development key is refused in production.
  users: ['PII_ENCRYPTION_KEYS'],
  // orders' config.ts (issue 18): guest e-mails and guest order tokens.
  orders: ['PII_ENCRYPTION_KEYS', 'GUEST_ORDER_TOKEN_SECRET'],
};

/** Services a subgraph answers besides the gateway, on signed internal routes: users asks orders for guest order recipients (issue 18). */
const INTERNAL_CALLERS: Readonly<Record<string, readonly string[]>> = { orders: ['users'] };

/** Set by Kubernetes itself (the pod name); read by the code but never in a manifest. */
const SET_BY_KUBERNETES = new Set(['HOSTNAME']);

/** Secrets an operator creates (README, "Deployment"); the databases' `<cluster>-app` Secrets come from CloudNativePG. */
const DOCUMENTED_SECRETS = ['shop-secrets', 'shop-smtp'];

const services = serviceWorkspaces();
const built = new Map<string, K8sObject[]>(overlays().map((o) => [o, buildOverlay(o)]));

function isSetting(value: unknown): value is Setting {
  return typeof value === 'object' && value !== null && typeof (value as { safeParse?: unknown }).safeParse === 'function';
}

/** Every exported `<name>Env` object of a module whose values are all schemas. */
function settingsObjects(mod: Record<string, unknown>): Array<Record<string, Setting>> {
  return Object.entries(mod)
    .filter(([name, value]) => name.endsWith('Env') && typeof value === 'object' && value !== null && Object.values(value).every(isSetting))
    .map(([, value]) => value as Record<string, Setting>);
}

interface CodeSettings {
  /** Validated settings: name -> schema. */
  readonly schemas: Map<string, Setting>;
  /** Every variable the process reads (schemas and direct reads). */
  readonly known: Set<string>;
  /** Variables without which the service refuses to start in production. */
  readonly required: Set<string>;
}

/** What a service's code reads from its environment when it runs alone (main.ts). */
function codeSettings(service: ServiceWorkspace): CodeSettings {
  const schemas = new Map<string, Setting>();
  const add = (obj: Record<string, Setting>): void => {
    for (const [k, v] of Object.entries(obj)) schemas.set(k, v);
  };
  if (service.kind === 'gateway') {
    for (const obj of settingsObjects(require(path.join(REPO_ROOT, service.dir, 'src/config.ts')) as Record<string, unknown>)) add(obj);
  } else {
    // runStandalone reads standaloneEnv plus PORT (default: the service's port).
    add({ ...(standaloneEnv as unknown as Record<string, Setting>), PORT: envParsers.port(0) as unknown as Setting });
    // …and the settings its ServiceDefinition declares.
    for (const value of Object.values(require(path.join(REPO_ROOT, service.dir, 'src/service.ts')) as Record<string, unknown>)) {
      const shape = (value as { settings?: { shape?: unknown } } | null)?.settings?.shape;
      if (typeof shape === 'object' && shape !== null && Object.values(shape).every(isSetting)) add(shape as Record<string, Setting>);
    }
  }
  const known = new Set([...schemas.keys(), ...directEnvReads(runtimeSourceDirs(service))]);
  const required = new Set([...schemas].filter(([, s]) => !s.safeParse(undefined).success).map(([k]) => k));
  for (const k of REQUIRED_IN_PRODUCTION[service.name] ?? []) required.add(k);
  return { schemas, known, required };
}

function deploymentOf(objects: readonly K8sObject[], service: string): Deployment {
  const d = find<Deployment>(objects, 'Deployment', service);
  if (!d) throw new Error(`no Deployment ${service}`);
  return d;
}

function allContainers(d: Deployment): Container[] {
  return [...(d.spec.template.spec.initContainers ?? []), ...d.spec.template.spec.containers];
}

/** The container that serves (named like the service). */
function mainContainer(d: Deployment): Container {
  const c = d.spec.template.spec.containers.find((x) => x.name === d.metadata.name);
  if (!c) throw new Error(`Deployment ${d.metadata.name} has no container named ${d.metadata.name}`);
  return c;
}

/** The literal value of a variable (ConfigMap or env), or the schema's default when unset. */
function settingValue(env: Map<string, EnvSource>, name: string, schema: Setting | undefined): unknown {
  const source = env.get(name);
  if (source?.kind === 'value') return schema ? schema.safeParse(source.value).data : source.value;
  return schema?.safeParse(undefined).data;
}

/** The Secret and key a file path of a container comes from (a mounted `secret` volume), or undefined. */
function secretFileOf(d: Deployment, c: Container, file: string | undefined): { secret: string; key: string } | undefined {
  if (!file) return undefined;
  for (const m of c.volumeMounts ?? []) {
    const dir = m.mountPath.endsWith('/') ? m.mountPath : `${m.mountPath}/`;
    if (!file.startsWith(dir)) continue;
    const secret = (d.spec.template.spec.volumes ?? []).find((v) => v.name === m.name)?.secret;
    if (!secret) continue;
    const relative = file.slice(dir.length);
    const item = secret.items ? secret.items.find((i) => (i.path ?? i.key) === relative) : { key: relative };
    if (item) return { secret: secret.secretName, key: item.key };
  }
  return undefined;
}

/** The Strimzi Kafka resource, as far as these checks read it. */
type KafkaCluster = K8sObject & {
  spec: {
    kafka: { listeners: Array<{ name: string; port: number; tls: boolean; authentication?: { type: string } }> };
    entityOperator?: { userOperator?: object };
  };
};

const settingsByService = new Map(services.map((s) => [s.name, codeSettings(s)]));
/** The services whose code connects to Kafka (they read KAFKA_BROKERS). */
const kafkaClients = services.filter((s) => settingsByService.get(s.name)?.known.has('KAFKA_BROKERS')).map((s) => s.name);

it('should find the services of the workspace and at least one overlay', () => {
  expect(services.map((s) => s.name)).toEqual(expect.arrayContaining(['gateway', 'users', 'catalog', 'inventory', 'orders']));
  expect([...built.keys()]).toEqual(expect.arrayContaining(['dev', 'prod']));
});

it('should validate every object of every overlay against the Kubernetes and CRD schemas', () => {
  // kubernetes-models are ES modules: validated by k8s/validate.ts under tsx, outside jest's loader.
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'k8s/validate.ts'), '--json'], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }).trim();
  const report = JSON.parse(out.split('\n').pop() as string) as Record<string, { objects: number; problems: Array<{ object: string; message: string }> }>;
  for (const [overlay, objects] of built) {
    expect(report[overlay]?.objects).toBe(objects.length);
    expect(report[overlay]?.problems.map((p) => `${p.object}: ${p.message}`)).toEqual([]);
  }
});

it('should keep the production-only requirements in step with the code', () => {
  for (const [service, names] of Object.entries(REQUIRED_IN_PRODUCTION)) {
    const settings = settingsByService.get(service);
    expect({ service, unknown: names.filter((n) => !settings?.schemas.has(n)) }).toEqual({ service, unknown: [] });
  }
});

describe.each([...built.keys()])('overlay %s', (overlay) => {
  const objects = built.get(overlay) as K8sObject[];
  const deployments = ofKind<Deployment>(objects, 'Deployment');

  it('should put everything in one namespace and hold no Secret', () => {
    const namespaces = new Set(objects.filter((o) => o.kind !== 'Namespace').map((o) => o.metadata.namespace));
    expect(namespaces.size).toBe(1);
    expect([...namespaces][0]).toBeDefined();
    expect(ofKind(objects, 'Secret').map(describeObject)).toEqual([]);
  });

  it('should give every service of the workspace its Deployment, Service, ConfigMap, ServiceAccount, HPA, PDB, ServiceMonitor and NetworkPolicy', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(services.map((s) => s.name).sort());
    for (const { name } of services) {
      const d = deploymentOf(objects, name);
      const podLabels = d.spec.template.metadata.labels;
      const service = find<K8sObject & { spec: { selector: Record<string, string>; ports: Array<{ name: string }> } }>(objects, 'Service', name);
      expect({ name, service: Boolean(service) }).toEqual({ name, service: true });
      expect({ name, serviceSelectsPods: selects({ matchLabels: service?.spec.selector ?? {} }, podLabels) }).toEqual({ name, serviceSelectsPods: true });
      // The Service selects this Deployment's pods and no other's.
      expect(deployments.filter((o) => selects({ matchLabels: service?.spec.selector ?? {} }, o.spec.template.metadata.labels)).map((o) => o.metadata.name)).toEqual([name]);
      const sa = find<K8sObject & { automountServiceAccountToken?: boolean }>(objects, 'ServiceAccount', d.spec.template.spec.serviceAccountName ?? 'default');
      expect({ name, serviceAccount: sa?.metadata.name, automount: sa?.automountServiceAccountToken }).toEqual({ name, serviceAccount: name, automount: false });
      expect({ name, ownConfigMap: (mainContainer(d).envFrom ?? []).some((f) => f.configMapRef?.name.startsWith(`${name}-config`)) }).toEqual({ name, ownConfigMap: true });
      const pdbs = ofKind<K8sObject & { spec: { selector: LabelSelector; maxUnavailable?: number | string; minAvailable?: number | string } }>(objects, 'PodDisruptionBudget').filter((p) => selects(p.spec.selector, podLabels));
      expect({ name, pdbs: pdbs.length }).toEqual({ name, pdbs: 1 });
      const monitors = ofKind<K8sObject & { spec: { selector: LabelSelector; endpoints: Array<{ port: string; path?: string; honorLabels?: boolean }> } }>(objects, 'ServiceMonitor').filter((m) =>
        selects(m.spec.selector, service?.metadata.labels ?? {}),
      );
      expect({ name, serviceMonitors: monitors.length }).toEqual({ name, serviceMonitors: 1 });
      // honorLabels: the code's own `service` label must survive the scrape (the dashboards group by it).
      for (const e of monitors[0]?.spec.endpoints ?? []) expect({ name, port: service?.spec.ports.some((p) => p.name === e.port), honorLabels: e.honorLabels }).toEqual({ name, port: true, honorLabels: true });
      expect({ name, networkPolicies: ingressRulesFor(objects, podLabels).filter((r) => r.policy !== 'default-deny-ingress').length > 0 }).toEqual({ name, networkPolicies: true });
    }
  });

  it('should set exactly the settings each service reads, every required one, with values the code accepts', () => {
    const problems: string[] = [];
    for (const service of services) {
      const settings = settingsByService.get(service.name) as CodeSettings;
      const d = deploymentOf(objects, service.name);
      const main = containerEnv(mainContainer(d), objects);
      for (const c of allContainers(d)) {
        const env = containerEnv(c, objects);
        const where = `${service.name}/${c.name}`;
        for (const name of env.keys()) if (!settings.known.has(name)) problems.push(`${where}: sets ${name}, which the code never reads`);
        for (const name of settings.required) {
          const source = env.get(name);
          if (!source) problems.push(`${where}: does not set ${name}, which the code requires`);
          else if (source.kind === 'secret' && source.optional) problems.push(`${where}: ${name} is required but its secretKeyRef is optional`);
        }
        for (const [name, source] of env) {
          const schema = settings.schemas.get(name);
          if (source.kind !== 'value' || !schema) continue;
          const parsed = schema.safeParse(source.value);
          if (!parsed.success) problems.push(`${where}: ${name}=${JSON.stringify(source.value)} (${source.from}) is refused by the code: ${parsed.error?.issues[0]?.message ?? ''}`);
        }
        // The migration init container starts the same code and validates the same settings.
        if (c !== mainContainer(d) && JSON.stringify([...env].sort()) !== JSON.stringify([...main].sort())) problems.push(`${where}: has other settings than ${service.name}/${service.name}`);
        if (env.get('NODE_ENV')?.kind !== 'value' || (env.get('NODE_ENV') as { value: string }).value !== 'production') problems.push(`${where}: NODE_ENV must be production`);
      }
      for (const name of SET_BY_KUBERNETES) if (main.has(name)) problems.push(`${service.name}: sets ${name}, which Kubernetes sets`);
    }
    expect(problems).toEqual([]);
  });

  it('should point the gateway at every subgraph Service and every Kafka client at the Kafka bootstrap Service', () => {
    const gatewayEnv = containerEnv(mainContainer(deploymentOf(objects, 'gateway')), objects);
    for (const s of services.filter((x) => x.kind === 'subgraph')) {
      const svc = find<K8sObject & { spec: { ports: Array<{ port: number }> } }>(objects, 'Service', s.name);
      const url = gatewayEnv.get(`${s.name.toUpperCase()}_URL`);
      expect({ subgraph: s.name, url: url?.kind === 'value' ? url.value : url }).toEqual({ subgraph: s.name, url: `http://${s.name}:${svc?.spec.ports[0]?.port}/graphql` });
    }
    const kafka = ofKind<KafkaCluster>(objects, 'Kafka');
    expect(kafka).toHaveLength(1);
    const listener = kafka[0]?.spec.kafka.listeners.find((l) => l.tls && l.authentication?.type === 'scram-sha-512');
    for (const s of kafkaClients) {
      const brokers = containerEnv(mainContainer(deploymentOf(objects, s)), objects).get('KAFKA_BROKERS');
      expect({ service: s, brokers: brokers?.kind === 'value' ? brokers.value : brokers }).toEqual({ service: s, brokers: `${kafka[0]?.metadata.name}-kafka-bootstrap:${listener?.port}` });
    }
  });

  it('should reach Kafka only over TLS with SCRAM-SHA-512: one KafkaUser per client, its Secret, Strimzi\'s cluster CA', () => {
    const problems: string[] = [];
    const kafka = ofKind<KafkaCluster>(objects, 'Kafka')[0] as KafkaCluster;
    for (const l of kafka.spec.kafka.listeners) {
      if (!l.tls || l.authentication?.type !== 'scram-sha-512') problems.push(`Kafka listener ${l.name}: must be tls: true with authentication scram-sha-512 (got tls ${l.tls}, ${l.authentication?.type ?? 'no authentication'})`);
    }
    if (!kafka.spec.entityOperator?.userOperator) problems.push('Kafka: no entityOperator.userOperator (nothing would create the KafkaUsers and their Secrets)');
    const users = ofKind<K8sObject & { spec: { authentication?: { type: string } } }>(objects, 'KafkaUser');
    const usersOfClients = new Map<string, string>();
    for (const service of kafkaClients) {
      const d = deploymentOf(objects, service);
      for (const c of allContainers(d)) {
        const env = containerEnv(c, objects);
        const where = `${service}/${c.name}`;
        const value = (name: string): string | undefined => {
          const source = env.get(name);
          return source?.kind === 'value' ? source.value : undefined;
        };
        const schemas = settingsByService.get(service)?.schemas;
        if (value('KAFKA_SECURITY_PROTOCOL') !== 'SASL_SSL') problems.push(`${where}: KAFKA_SECURITY_PROTOCOL must be SASL_SSL`);
        if (settingValue(env, 'KAFKA_SASL_MECHANISM', schemas?.get('KAFKA_SASL_MECHANISM')) !== 'SCRAM-SHA-512') problems.push(`${where}: KAFKA_SASL_MECHANISM must be SCRAM-SHA-512 (the KafkaUsers' mechanism)`);
        const username = value('KAFKA_SASL_USERNAME');
        const user = users.find((u) => u.metadata.name === username);
        if (!user) problems.push(`${where}: KAFKA_SASL_USERNAME ${String(username)} is no KafkaUser`);
        else {
          if (user.spec.authentication?.type !== 'scram-sha-512') problems.push(`KafkaUser ${user.metadata.name}: authentication must be scram-sha-512`);
          if (user.metadata.labels?.['strimzi.io/cluster'] !== kafka.metadata.name) problems.push(`KafkaUser ${user.metadata.name}: strimzi.io/cluster must be ${kafka.metadata.name}`);
          usersOfClients.set(service, user.metadata.name);
        }
        // The User Operator writes the password to the Secret named like the user, key `password`.
        const password = env.get('KAFKA_SASL_PASSWORD');
        if (password?.kind !== 'secret' || password.secret !== username || password.key !== 'password' || password.optional) problems.push(`${where}: KAFKA_SASL_PASSWORD must come from the Secret ${String(username)}, key password (not optional)`);
        const ca = secretFileOf(d, c, value('KAFKA_SSL_CA_FILE'));
        if (ca?.secret !== `${kafka.metadata.name}-cluster-ca-cert` || ca.key !== 'ca.crt') problems.push(`${where}: KAFKA_SSL_CA_FILE must be the key ca.crt of the Secret ${kafka.metadata.name}-cluster-ca-cert, mounted (got ${JSON.stringify(ca ?? value('KAFKA_SSL_CA_FILE'))})`);
      }
    }
    // One user per service: a leaked password gives one service's access, and the broker's logs name the service.
    expect(new Set(usersOfClients.values()).size).toBe(kafkaClients.length);
    expect(problems).toEqual([]);
  });

  it('should connect every subgraph to its database with verify-full against its CloudNativePG cluster CA', () => {
    const problems: string[] = [];
    for (const s of services.filter((x) => x.kind === 'subgraph')) {
      const d = deploymentOf(objects, s.name);
      for (const c of allContainers(d)) {
        const env = containerEnv(c, objects);
        const where = `${s.name}/${c.name}`;
        const mode = env.get('DATABASE_SSL_MODE');
        if (mode?.kind !== 'value' || mode.value !== 'verify-full') problems.push(`${where}: DATABASE_SSL_MODE must be verify-full`);
        const file = env.get('DATABASE_SSL_CA_FILE');
        // CloudNativePG keeps its server CA in the Secret <cluster>-ca (keys ca.crt, ca.key).
        const ca = secretFileOf(d, c, file?.kind === 'value' ? file.value : undefined);
        if (ca?.secret !== `${s.name}-db-ca` || ca.key !== 'ca.crt') problems.push(`${where}: DATABASE_SSL_CA_FILE must be the key ca.crt of the Secret ${s.name}-db-ca, mounted (got ${JSON.stringify(ca ?? file)})`);
      }
      // That Secret also holds the CA's private key (ca.key): only the certificate may reach the pod.
      for (const v of d.spec.template.spec.volumes ?? []) {
        if (v.secret?.secretName === `${s.name}-db-ca` && JSON.stringify((v.secret.items ?? []).map((i) => i.key)) !== '["ca.crt"]') problems.push(`${s.name}: volume ${v.name} must mount only ca.crt of ${v.secret.secretName} (it also holds the CA's private key)`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('should serve the probes on the port the service listens on', () => {
    for (const service of services) {
      const d = deploymentOf(objects, service.name);
      const c = mainContainer(d);
      const port = settingValue(containerEnv(c, objects), 'PORT', settingsByService.get(service.name)?.schemas.get('PORT'));
      expect({ service: service.name, ports: c.ports?.map((p) => [p.name, p.containerPort]) }).toEqual({ service: service.name, ports: [['http', port]] });
      for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) {
        expect({ service: service.name, probe: probe?.httpGet?.port }).toEqual({ service: service.name, probe: 'http' });
      }
      expect({ service: service.name, readiness: c.readinessProbe?.httpGet?.path }).toEqual({ service: service.name, readiness: '/health/ready' });
    }
  });

  it('should run every pod non-root, read-only, without privilege escalation or capabilities, spread over nodes and zones', () => {
    const problems: string[] = [];
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      const name = d.metadata.name;
      if (pod.securityContext?.runAsNonRoot !== true || !pod.securityContext.runAsUser) problems.push(`${name}: pod must run as a non-root uid`);
      if (pod.securityContext?.seccompProfile?.type !== 'RuntimeDefault') problems.push(`${name}: seccompProfile must be RuntimeDefault`);
      if (pod.automountServiceAccountToken !== false) problems.push(`${name}: automountServiceAccountToken must be false`);
      const tmpVolumes = new Set((pod.volumes ?? []).filter((v) => v.emptyDir).map((v) => v.name));
      for (const c of allContainers(d)) {
        const sc = c.securityContext;
        if (sc?.allowPrivilegeEscalation !== false) problems.push(`${name}/${c.name}: allowPrivilegeEscalation must be false`);
        if (sc?.readOnlyRootFilesystem !== true) problems.push(`${name}/${c.name}: readOnlyRootFilesystem must be true`);
        if (sc?.privileged) problems.push(`${name}/${c.name}: must not be privileged`);
        if (!sc?.capabilities?.drop?.includes('ALL') || (sc.capabilities.add ?? []).length) problems.push(`${name}/${c.name}: must drop ALL capabilities and add none`);
        if (!(c.volumeMounts ?? []).some((m) => m.mountPath === '/tmp' && tmpVolumes.has(m.name))) problems.push(`${name}/${c.name}: /tmp must be an emptyDir (tsx needs a writable /tmp)`);
        for (const kind of ['requests', 'limits'] as const) {
          for (const r of ['cpu', 'memory']) if (c.resources?.[kind]?.[r] === undefined) problems.push(`${name}/${c.name}: no ${r} ${kind.slice(0, -1)}`);
        }
      }
      const spread = pod.topologySpreadConstraints ?? [];
      for (const key of ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']) {
        if (!spread.some((t) => t.topologyKey === key && selects(t.labelSelector, d.spec.template.metadata.labels))) problems.push(`${name}: no topology spread over ${key} selecting its pods`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('should give every pod a termination grace longer than the preStop pause plus the drain time', () => {
    for (const service of services) {
      const d = deploymentOf(objects, service.name);
      const c = mainContainer(d);
      const drainMs = settingValue(containerEnv(c, objects), 'DRAIN_TIMEOUT_MS', settingsByService.get(service.name)?.schemas.get('DRAIN_TIMEOUT_MS'));
      expect({ service: service.name, drainMs: typeof drainMs }).toEqual({ service: service.name, drainMs: 'number' });
      const preStopMs = (c.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
      // 5 s left for closing the database pool and the bus after the drain.
      expect({ service: service.name, graceMs: (d.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000 >= preStopMs + (drainMs as number) + 5000 }).toEqual({ service: service.name, graceMs: true });
    }
  });

  it('should migrate a subgraph database in an init container before the new version serves', () => {
    for (const service of services.filter((s) => s.kind === 'subgraph')) {
      const d = deploymentOf(objects, service.name);
      const init = d.spec.template.spec.initContainers ?? [];
      expect({ service: service.name, init: init.map((c) => [c.name, c.image === mainContainer(d).image, c.args]) }).toEqual({ service: service.name, init: [['migrate', true, ['migrate']]] });
      // The serving container does not race the init container (or other replicas) on migrations.
      const runMigrations = settingValue(containerEnv(mainContainer(d), objects), 'RUN_MIGRATIONS', settingsByService.get(service.name)?.schemas.get('RUN_MIGRATIONS'));
      expect({ service: service.name, runMigrations }).toEqual({ service: service.name, runMigrations: false });
    }
  });

  it('should scale every Deployment with an autoscaling/v2 HPA on CPU and GraphQL requests per second', () => {
    for (const d of deployments) {
      expect({ deployment: d.metadata.name, replicas: d.spec.replicas }).toEqual({ deployment: d.metadata.name, replicas: undefined });
      const hpas = ofKind<K8sObject & { spec: { scaleTargetRef: { kind: string; name: string }; minReplicas: number; maxReplicas: number; metrics: Array<{ type: string; resource?: { name: string }; pods?: { metric: { name: string } } }> } }>(
        objects,
        'HorizontalPodAutoscaler',
        'autoscaling/v2',
      ).filter((h) => h.spec.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === d.metadata.name);
      expect({ deployment: d.metadata.name, hpas: hpas.length }).toEqual({ deployment: d.metadata.name, hpas: 1 });
      const hpa = hpas[0];
      expect({
        deployment: d.metadata.name,
        cpu: hpa?.spec.metrics.some((m) => m.type === 'Resource' && m.resource?.name === 'cpu'),
        rps: hpa?.spec.metrics.some((m) => m.type === 'Pods' && m.pods?.metric.name === 'graphql_requests_per_second'),
        range: (hpa?.spec.minReplicas ?? 0) >= 1 && (hpa?.spec.minReplicas ?? 0) <= (hpa?.spec.maxReplicas ?? 0),
      }).toEqual({ deployment: d.metadata.name, cpu: true, rps: true, range: true });
    }
  });

  it('should declare a KafkaTopic for every topic and dead-letter topic of the code, sized as the services would create them', async () => {
    const definitions = (Object.values(events) as unknown[]).filter((v): v is { type: string; topic: string } => typeof v === 'object' && v !== null && typeof (v as { topic?: unknown }).topic === 'string' && typeof (v as { type?: unknown }).type === 'string');
    const expected = new Set(definitions.map((d) => d.topic));
    for (const service of services.filter((s) => s.kind === 'subgraph')) {
      const mod = require(path.join(REPO_ROOT, service.dir, 'src/service.ts')) as Record<string, unknown>;
      const def = Object.values(mod).find((v) => typeof v === 'object' && v !== null && (v as { name?: unknown }).name === service.name) as { name: string; consumers?: unknown } | undefined;
      expect({ service: service.name, definition: Boolean(def) }).toEqual({ service: service.name, definition: true });
      // startService consumes with the service name as consumer group, dead-lettering to dlq.<group>.
      if (def?.consumers) expected.add(defaultDeadLetterTopic(def.name));
    }
    const kafka = ofKind(objects, 'Kafka')[0] as K8sObject;
    const topics = ofKind<K8sObject & { spec: { topicName?: string; partitions: number; replicas: number; config?: Record<string, unknown> } }>(objects, 'KafkaTopic');
    expect(topics.map((t) => t.spec.topicName ?? t.metadata.name).sort()).toEqual([...expected].sort());
    const subgraphEnv = containerEnv(mainContainer(deploymentOf(objects, 'catalog')), objects);
    const schemas = settingsByService.get('catalog')?.schemas;
    const partitions = settingValue(subgraphEnv, 'KAFKA_TOPIC_PARTITIONS', schemas?.get('KAFKA_TOPIC_PARTITIONS'));
    const replicas = settingValue(subgraphEnv, 'KAFKA_REPLICATION_FACTOR', schemas?.get('KAFKA_REPLICATION_FACTOR'));
    const brokers = ofKind<K8sObject & { spec: { replicas: number; roles: string[] } }>(objects, 'KafkaNodePool')
      .filter((p) => p.spec.roles.includes('broker'))
      .reduce((n, p) => n + p.spec.replicas, 0);
    for (const t of topics) {
      const minIsr = Number(t.spec.config?.['min.insync.replicas'] ?? 1);
      expect({
        topic: t.metadata.name,
        cluster: t.metadata.labels?.['strimzi.io/cluster'],
        partitions: t.spec.partitions,
        replicas: t.spec.replicas,
        fitsBrokers: t.spec.replicas <= brokers,
        // One replica may be down (rolling update) and writes still succeed.
        survivesOneBroker: t.spec.replicas === 1 || minIsr <= t.spec.replicas - 1,
      }).toEqual({ topic: t.metadata.name, cluster: kafka.metadata.name, partitions, replicas, fitsBrokers: true, survivesOneBroker: true });
    }
    // Every subgraph agrees on the sizes.
    for (const service of services.filter((s) => s.kind === 'subgraph')) {
      const e = containerEnv(mainContainer(deploymentOf(objects, service.name)), objects);
      expect([service.name, settingValue(e, 'KAFKA_TOPIC_PARTITIONS', schemas?.get('KAFKA_TOPIC_PARTITIONS')), settingValue(e, 'KAFKA_REPLICATION_FACTOR', schemas?.get('KAFKA_REPLICATION_FACTOR'))]).toEqual([service.name, partitions, replicas]);
    }
  });

  it('should run KRaft with controller and broker node pools', () => {
    const pools = ofKind<K8sObject & { spec: { replicas: number; roles: string[] } }>(objects, 'KafkaNodePool');
    const kafka = ofKind(objects, 'Kafka')[0] as K8sObject;
    expect(pools.every((p) => p.metadata.labels?.['strimzi.io/cluster'] === kafka.metadata.name)).toBe(true);
    expect(pools.some((p) => p.spec.roles.includes('controller'))).toBe(true);
    expect(pools.some((p) => p.spec.roles.includes('broker'))).toBe(true);
  });

  it('should give every subgraph its own CloudNativePG database, reachable only from that subgraph', () => {
    const problems: string[] = [];
    const clusters = ofKind<K8sObject & { spec: { bootstrap?: { initdb?: { database?: string; owner?: string } } } }>(objects, 'Cluster', 'postgresql.cnpg.io/');
    const subgraphs = services.filter((s) => s.kind === 'subgraph');
    expect(clusters.map((c) => c.metadata.name).sort()).toEqual(subgraphs.map((s) => `${s.name}-db`).sort());
    for (const s of subgraphs) {
      const cluster = find<(typeof clusters)[number]>(objects, 'Cluster', `${s.name}-db`);
      if (cluster?.spec.bootstrap?.initdb?.database !== s.name) problems.push(`${s.name}-db: initdb database must be ${s.name}`);
      const url = containerEnv(mainContainer(deploymentOf(objects, s.name)), objects).get('DATABASE_URL');
      if (url?.kind !== 'secret' || url.secret !== `${s.name}-db-app` || url.key !== 'uri') problems.push(`${s.name}: DATABASE_URL must come from the Secret ${s.name}-db-app, key uri (CloudNativePG)`);
      // Who may connect: among the shop's workloads, only the owning service.
      const dbPodLabels = { 'cnpg.io/cluster': `${s.name}-db`, 'cnpg.io/podRole': 'instance' };
      const rules = ingressRulesFor(objects, dbPodLabels).filter((r) => r.policy !== 'default-deny-ingress');
      if (!rules.length) problems.push(`${s.name}-db: no NetworkPolicy`);
      for (const rule of rules) {
        if (!rule.from?.length) problems.push(`${s.name}-db: policy ${rule.policy} admits every source`);
        for (const peer of rule.from ?? []) {
          if (peer.namespaceSelector || peer.ipBlock) continue; // the operator's and Prometheus' namespaces
          const admitted = deployments.filter((d) => selects(peer.podSelector, d.spec.template.metadata.labels)).map((d) => d.metadata.name);
          if (admitted.some((n) => n !== s.name)) problems.push(`${s.name}-db: policy ${rule.policy} admits ${admitted.join(', ')} (${describePeer(peer)})`);
          if (!admitted.length && !selects(peer.podSelector, dbPodLabels)) problems.push(`${s.name}-db: policy ${rule.policy} admits ${describePeer(peer)}`);
        }
      }
      // The subgraph's pods do match the rule that admits them.
      const ownPods = deploymentOf(objects, s.name).spec.template.metadata.labels;
      if (!rules.some((r) => (r.from ?? []).some((p) => !p.namespaceSelector && selects(p.podSelector, ownPods)))) problems.push(`${s.name}-db: ${s.name} cannot reach its database`);
    }
    expect(problems).toEqual([]);
  });

  it('should let only the gateway (and Prometheus, and the internal callers) reach a subgraph, and only the services that use Kafka reach it', () => {
    const problems: string[] = [];
    const isPrometheus = (p: NetworkPolicyPeer): boolean => p.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'monitoring' && p.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'prometheus';
    const gatewayPods = deploymentOf(objects, 'gateway').spec.template.metadata.labels;
    for (const s of services.filter((x) => x.kind === 'subgraph')) {
      const rules = ingressRulesFor(objects, deploymentOf(objects, s.name).spec.template.metadata.labels).filter((r) => r.policy !== 'default-deny-ingress');
      if (!rules.length) problems.push(`${s.name}: no NetworkPolicy`);
      for (const rule of rules) {
        if (!rule.from?.length) problems.push(`${s.name}: policy ${rule.policy} admits every source`);
        for (const peer of rule.from ?? []) {
          if (isPrometheus(peer)) continue;
          const admitted = deployments.filter((d) => !peer.namespaceSelector && selects(peer.podSelector, d.spec.template.metadata.labels)).map((d) => d.metadata.name);
          const allowed = ['gateway', ...(INTERNAL_CALLERS[s.name] ?? [])];
          if (peer.namespaceSelector || peer.ipBlock || admitted.length !== 1 || !allowed.includes(admitted[0]!)) problems.push(`${s.name}: policy ${rule.policy} admits ${describePeer(peer)}`);
        }
      }
      if (!rules.some((r) => (r.from ?? []).some((p) => !p.namespaceSelector && selects(p.podSelector, gatewayPods)))) problems.push(`${s.name}: the gateway cannot reach it`);
    }
    const kafka = ofKind<K8sObject & { spec: { kafka: { listeners: Array<{ name: string; networkPolicyPeers?: NetworkPolicyPeer[] }> } } }>(objects, 'Kafka')[0];
    for (const listener of kafka?.spec.kafka.listeners ?? []) {
      const peers = listener.networkPolicyPeers ?? [];
      if (!peers.length) problems.push(`Kafka listener ${listener.name}: no networkPolicyPeers (open to every pod)`);
      const admitted = deployments.filter((d) => peers.some((p) => !p.namespaceSelector && selects(p.podSelector, d.spec.template.metadata.labels))).map((d) => d.metadata.name);
      expect({ listener: listener.name, admitted: admitted.sort() }).toEqual({ listener: listener.name, admitted: [...kafkaClients].sort() });
    }
    expect(ofKind<NetworkPolicy>(objects, 'NetworkPolicy').some((p) => p.metadata.name === 'default-deny-ingress' && Object.keys(p.spec.podSelector).length === 0 && !p.spec.ingress?.length)).toBe(true);
    expect(problems).toEqual([]);
  });

  it('should expose only the gateway, through one TLS Ingress that keeps WebSocket subscriptions open', () => {
    const ingresses = ofKind<K8sObject & { spec: { ingressClassName?: string; tls?: Array<{ hosts: string[]; secretName: string }>; rules: Array<{ host: string; http: { paths: Array<{ path: string; pathType: string; backend: { service: { name: string; port: { name?: string; number?: number } } } }> } }> } }>(objects, 'Ingress');
    expect(ingresses).toHaveLength(1);
    const ingress = ingresses[0] as (typeof ingresses)[number];
    const hosts = ingress.spec.rules.map((r) => r.host);
    expect(hosts.every((h) => ingress.spec.tls?.some((t) => t.hosts.includes(h)))).toBe(true);
    const paths = ingress.spec.rules.flatMap((r) => r.http.paths);
    expect(paths.map((p) => p.backend.service.name)).toEqual(paths.map(() => 'gateway'));
    const gatewayService = find<K8sObject & { spec: { ports: Array<{ name: string }> } }>(objects, 'Service', 'gateway');
    for (const p of paths) expect(gatewayService?.spec.ports.some((port) => port.name === p.backend.service.port.name)).toBe(true);
    // GraphQL (HTTP and graphql-ws) is public; /metrics and /health/* are not.
    expect(paths.some((p) => p.path === '/graphql')).toBe(true);
    for (const p of paths) expect(['/metrics', '/health/live', '/health/ready'].some((internal) => internal.startsWith(p.path) && (p.pathType === 'Prefix' || p.path === internal))).toBe(false);
    const annotations = ingress.metadata.annotations ?? {};
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(3600);
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-send-timeout'])).toBeGreaterThanOrEqual(3600);
    const issuer = annotations['cert-manager.io/issuer'];
    expect(issuer && find(objects, 'Issuer', issuer)).toBeTruthy();
  });

  it('should reference only Secrets an operator creates (documented in the README) or CloudNativePG and Strimzi generate', () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const deployment = /^## Deployment\b[\s\S]*?(?=^## |(?![\s\S]))/m.exec(readme)?.[0] ?? '';
    expect(deployment).not.toBe('');
    const generated = new Set([
      // CloudNativePG: the application user's credentials and the server CA of each cluster.
      ...ofKind(objects, 'Cluster', 'postgresql.cnpg.io/').flatMap((c) => [`${c.metadata.name}-app`, `${c.metadata.name}-ca`]),
      // Strimzi: the User Operator writes each KafkaUser's Secret, the Cluster Operator the cluster CA certificate.
      ...ofKind(objects, 'KafkaUser', 'kafka.strimzi.io/').map((u) => u.metadata.name),
      ...ofKind(objects, 'Kafka', 'kafka.strimzi.io/').map((k) => `${k.metadata.name}-cluster-ca-cert`),
    ]);
    const problems: string[] = [];
    for (const d of deployments) {
      for (const v of d.spec.template.spec.volumes ?? []) {
        if (v.secret && !generated.has(v.secret.secretName) && !DOCUMENTED_SECRETS.includes(v.secret.secretName)) problems.push(`${d.metadata.name}: volume ${v.name}: Secret ${v.secret.secretName} is neither documented nor generated`);
      }
      for (const c of allContainers(d)) {
        for (const source of containerEnv(c, objects).values()) {
          if (source.kind !== 'secret') continue;
          if (generated.has(source.secret)) continue;
          if (!DOCUMENTED_SECRETS.includes(source.secret)) problems.push(`${d.metadata.name}/${c.name}: Secret ${source.secret} is neither documented nor generated`);
          else if (!deployment.includes(source.secret) || !deployment.includes(source.key)) problems.push(`${d.metadata.name}/${c.name}: README's Deployment section does not explain ${source.secret}/${source.key}`);
        }
      }
    }
    expect([...new Set(problems)]).toEqual([]);
  });

  it('should hold the PrometheusRules and dashboard ConfigMaps that observability/ generates, unchanged', () => {
    const generated = [...renderMonitoring(REPO_ROOT)].filter(([f]) => f !== 'kustomization.yaml').map(([, content]) => parse(content) as K8sObject & { spec?: unknown; data?: unknown });
    for (const g of generated) {
      const inOverlay = find<K8sObject & { spec?: unknown; data?: unknown }>(objects, g.kind, g.metadata.name);
      expect({ object: `${g.kind}/${g.metadata.name}`, spec: inOverlay?.spec, data: inOverlay?.data }).toEqual({ object: `${g.kind}/${g.metadata.name}`, spec: g.spec, data: g.data });
    }
    expect(ofKind(objects, 'PrometheusRule').length + ofKind(objects, 'ConfigMap').filter((c) => c.metadata.labels?.['grafana_dashboard'] === '1').length).toBe(generated.length);
  });
});

describe('health and metrics paths', () => {
  let server: Server;
  let base: string;

  beforeAll(async () => {
    // The same routes every service mounts (startService and startGateway both call it).
    const app = express();
    mountOperationalRoutes(app, 'k8s-manifest-test', async () => true);
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('should mount the operational routes in both the subgraph runtime and the gateway', () => {
    for (const file of ['packages/platform/src/service/start.ts', 'gateway/src/gateway.ts']) {
      expect({ file, mounts: /\bmountOperationalRoutes\(/.test(readFileSync(path.join(REPO_ROOT, file), 'utf8')) }).toEqual({ file, mounts: true });
    }
  });

  it('should serve every path a probe or a ServiceMonitor uses', async () => {
    const paths = new Set<string>();
    for (const objects of built.values()) {
      for (const d of ofKind<Deployment>(objects, 'Deployment')) {
        for (const c of allContainers(d)) for (const p of [c.startupProbe, c.livenessProbe, c.readinessProbe]) if (p?.httpGet?.path) paths.add(p.httpGet.path);
      }
      for (const m of ofKind<K8sObject & { spec: { endpoints: Array<{ path?: string }> } }>(objects, 'ServiceMonitor')) for (const e of m.spec.endpoints) paths.add(e.path ?? '/metrics');
    }
    expect([...paths].sort()).toEqual(['/health/live', '/health/ready', '/metrics']);
    for (const p of paths) {
      const res = await fetch(`${base}${p}`);
      expect({ path: p, status: res.status }).toEqual({ path: p, status: 200 });
    }
  });

  it('should keep the generated monitoring files where the base kustomization includes them', () => {
    const base = parse(readFileSync(path.join(REPO_ROOT, 'k8s/base/kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect(base.resources).toContain(path.relative('k8s/base', OUTPUT_DIR));
  });
});
