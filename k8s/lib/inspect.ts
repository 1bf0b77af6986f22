/**
 * Small readers over built manifests (plain objects from `kustomize build`) for the checks in
 * k8s/tests: pod templates, containers, the environment a container ends up with, and which
 * NetworkPolicies apply to a pod.
 */
import type { K8sObject } from './kustomize';

export type Labels = Readonly<Record<string, string>>;

export interface LabelSelector {
  readonly matchLabels?: Labels;
  readonly matchExpressions?: ReadonlyArray<{ readonly key: string; readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; readonly values?: readonly string[] }>;
}

export interface Probe {
  readonly httpGet?: { readonly path?: string; readonly port: number | string };
  readonly periodSeconds?: number;
  readonly failureThreshold?: number;
}

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly secretKeyRef?: { readonly name: string; readonly key: string; readonly optional?: boolean };
    readonly configMapKeyRef?: { readonly name: string; readonly key: string; readonly optional?: boolean };
    readonly fieldRef?: { readonly fieldPath: string };
  };
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly args?: readonly string[];
  readonly command?: readonly string[];
  readonly ports?: ReadonlyArray<{ readonly name?: string; readonly containerPort: number }>;
  readonly env?: readonly EnvVar[];
  readonly envFrom?: ReadonlyArray<{ readonly configMapRef?: { readonly name: string }; readonly secretRef?: { readonly name: string } }>;
  readonly startupProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly readinessProbe?: Probe;
  readonly lifecycle?: { readonly preStop?: { readonly sleep?: { readonly seconds: number } } };
  readonly resources?: { readonly requests?: Record<string, string | number>; readonly limits?: Record<string, string | number> };
  readonly securityContext?: {
    readonly allowPrivilegeEscalation?: boolean;
    readonly readOnlyRootFilesystem?: boolean;
    readonly runAsNonRoot?: boolean;
    readonly runAsUser?: number;
    readonly privileged?: boolean;
    readonly capabilities?: { readonly drop?: readonly string[]; readonly add?: readonly string[] };
  };
  readonly volumeMounts?: ReadonlyArray<{ readonly name: string; readonly mountPath: string; readonly readOnly?: boolean }>;
}

export interface PodSpec {
  readonly serviceAccountName?: string;
  readonly automountServiceAccountToken?: boolean;
  readonly terminationGracePeriodSeconds?: number;
  readonly securityContext?: { readonly runAsNonRoot?: boolean; readonly runAsUser?: number; readonly runAsGroup?: number; readonly seccompProfile?: { readonly type: string } };
  readonly topologySpreadConstraints?: ReadonlyArray<{ readonly topologyKey: string; readonly labelSelector?: LabelSelector; readonly whenUnsatisfiable: string }>;
  readonly initContainers?: readonly Container[];
  readonly containers: readonly Container[];
  readonly volumes?: ReadonlyArray<{ readonly name: string; readonly emptyDir?: object; readonly secret?: { readonly secretName: string; readonly items?: ReadonlyArray<{ readonly key: string; readonly path?: string }> } }>;
}

export interface Deployment extends K8sObject {
  readonly spec: { readonly replicas?: number; readonly selector: LabelSelector; readonly template: { readonly metadata: { readonly labels: Labels }; readonly spec: PodSpec } };
}

/** Objects of one kind (and apiVersion group, when given as `group/`), typed as `T`. */
export function ofKind<T extends K8sObject = K8sObject>(objects: readonly K8sObject[], kind: string, apiVersionPrefix?: string): T[] {
  return objects.filter((o) => o.kind === kind && (apiVersionPrefix === undefined || o.apiVersion.startsWith(apiVersionPrefix))) as T[];
}

/** The object `kind`/`name`, or undefined. */
export function find<T extends K8sObject = K8sObject>(objects: readonly K8sObject[], kind: string, name: string): T | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name) as T | undefined;
}

/** True when `labels` satisfy `selector` (an empty selector selects everything, as in Kubernetes). */
export function selects(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const value = labels[e.key];
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
    if (e.operator === 'In' && !(has && (e.values ?? []).includes(value as string))) return false;
    if (e.operator === 'NotIn' && has && (e.values ?? []).includes(value as string)) return false;
  }
  return true;
}

/** Where a container's environment variable comes from. */
export type EnvSource =
  | { readonly kind: 'value'; readonly value: string; readonly from: string }
  | { readonly kind: 'secret'; readonly secret: string; readonly key: string; readonly optional: boolean }
  | { readonly kind: 'other'; readonly from: string };

/**
 * The environment of `container`: variable -> source, with `envFrom` ConfigMaps resolved against
 * `objects`. Throws on what cannot be checked offline or is ambiguous: a missing ConfigMap, an
 * `envFrom` Secret (its keys are unknown), a variable set twice.
 */
export function containerEnv(container: Container, objects: readonly K8sObject[]): Map<string, EnvSource> {
  const env = new Map<string, EnvSource>();
  const set = (name: string, source: EnvSource): void => {
    if (env.has(name)) throw new Error(`container ${container.name}: ${name} is set twice`);
    env.set(name, source);
  };
  for (const from of container.envFrom ?? []) {
    if (from.secretRef) throw new Error(`container ${container.name}: envFrom secretRef ${from.secretRef.name} hides which variables it sets; use env[].valueFrom.secretKeyRef`);
    const name = from.configMapRef?.name;
    if (!name) continue;
    const cm = find<K8sObject & { data?: Record<string, string> }>(objects, 'ConfigMap', name);
    if (!cm) throw new Error(`container ${container.name}: envFrom ConfigMap ${name} does not exist`);
    for (const [key, value] of Object.entries(cm.data ?? {})) set(key, { kind: 'value', value, from: `ConfigMap ${name}` });
  }
  for (const v of container.env ?? []) {
    if (v.value !== undefined) set(v.name, { kind: 'value', value: v.value, from: 'env' });
    else if (v.valueFrom?.secretKeyRef) set(v.name, { kind: 'secret', secret: v.valueFrom.secretKeyRef.name, key: v.valueFrom.secretKeyRef.key, optional: v.valueFrom.secretKeyRef.optional === true });
    else set(v.name, { kind: 'other', from: JSON.stringify(v.valueFrom ?? null) });
  }
  return env;
}

export interface NetworkPolicyPeer {
  readonly podSelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
  readonly ipBlock?: { readonly cidr: string };
}

export interface NetworkPolicy extends K8sObject {
  readonly spec: {
    readonly podSelector: LabelSelector;
    readonly policyTypes?: readonly string[];
    readonly ingress?: ReadonlyArray<{ readonly from?: readonly NetworkPolicyPeer[]; readonly ports?: ReadonlyArray<{ readonly port?: number | string; readonly protocol?: string }> }>;
  };
}

/** The ingress rules that apply to a pod with `labels` (policies are additive), with their policy's name. */
export function ingressRulesFor(objects: readonly K8sObject[], labels: Labels): Array<{ policy: string; from: readonly NetworkPolicyPeer[] | undefined; ports: ReadonlyArray<{ readonly port?: number | string }> | undefined }> {
  const rules: Array<{ policy: string; from: readonly NetworkPolicyPeer[] | undefined; ports: ReadonlyArray<{ readonly port?: number | string }> | undefined }> = [];
  for (const np of ofKind<NetworkPolicy>(objects, 'NetworkPolicy')) {
    if (!selects(np.spec.podSelector, labels)) continue;
    for (const rule of np.spec.ingress ?? []) rules.push({ policy: np.metadata.name, from: rule.from, ports: rule.ports });
  }
  return rules;
}

/** A readable form of a NetworkPolicy peer, e.g. `pods {app.kubernetes.io/name=gateway}`. */
export function describePeer(peer: NetworkPolicyPeer): string {
  const sel = (s: LabelSelector | undefined): string =>
    s ? `{${[...Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`), ...(s.matchExpressions ?? []).map((e) => `${e.key} ${e.operator} ${(e.values ?? []).join('|')}`)].join(',')}}` : '';
  if (peer.ipBlock) return `ipBlock ${peer.ipBlock.cidr}`;
  return [peer.namespaceSelector ? `namespaces ${sel(peer.namespaceSelector)}` : 'this namespace', peer.podSelector ? `pods ${sel(peer.podSelector)}` : 'all pods'].join(', ');
}
