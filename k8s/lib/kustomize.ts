/**
 * Builds the kustomize overlays into plain objects, with the pinned kustomize that
 * `scripts/ensure-kustomize.sh` installs into `.cache/bin` (or `$KUSTOMIZE`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

/** The repository root. */
export const REPO_ROOT = path.resolve(__dirname, '../..');
/** The k8s folder. */
export const K8S_ROOT = path.join(REPO_ROOT, 'k8s');

/** A Kubernetes object as kustomize emits it (only the fields every object has are typed). */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly [field: string]: unknown;
}

/** Every overlay (a folder of `k8s/overlays` with a kustomization.yaml), sorted by name. */
export function overlays(): string[] {
  const dir = path.join(K8S_ROOT, 'overlays');
  return readdirSync(dir)
    .filter((name) => existsSync(path.join(dir, name, 'kustomization.yaml')))
    .sort();
}

/**
 * Path of the kustomize binary: `$KUSTOMIZE` when set, else `.cache/bin/kustomize`.
 * Throws (with the command that installs it) when neither exists: the manifest checks are never skipped.
 */
export function kustomizeBinary(): string {
  const bin = process.env['KUSTOMIZE'] ?? path.join(REPO_ROOT, '.cache/bin/kustomize');
  if (!existsSync(bin)) throw new Error(`kustomize not found at ${bin}: run \`bash scripts/ensure-kustomize.sh\` (or set KUSTOMIZE to a kustomize v5 binary)`);
  return bin;
}

/** Runs `kustomize build k8s/overlays/<overlay>` and parses its output. */
export function buildOverlay(overlay: string): K8sObject[] {
  const yaml = execFileSync(kustomizeBinary(), ['build', path.join(K8S_ROOT, 'overlays', overlay)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  return parseObjects(yaml, `overlay ${overlay}`);
}

/** Parses a multi-document YAML stream into objects; throws on a YAML error, naming `origin`. */
export function parseObjects(yaml: string, origin: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(yaml)) {
    if (doc.errors.length) throw new Error(`${origin}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    objects.push(value as K8sObject);
  }
  return objects;
}

/** `Kind/name` (and namespace when set), for messages. */
export function describe(obj: K8sObject): string {
  return `${obj.kind}/${obj.metadata.name}${obj.metadata.namespace ? ` (namespace ${obj.metadata.namespace})` : ''}`;
}
