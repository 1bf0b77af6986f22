/**
 * Offline validation of Kubernetes objects against the Kubernetes and CRD schemas, in two passes:
 * 1. `kubernetes-models` `.validate()`: the OpenAPI / CRD JSON schemas (types, required fields,
 *    enums, patterns, formats);
 * 2. the same packages' TypeScript declarations, checked by the TypeScript compiler: these catch
 *    what the JSON schemas let through, above all unknown (misspelt) fields, which an API server
 *    rejects under strict field validation (kubectl's default) or silently drops.
 *
 * The models are ES modules (imported dynamically), so this runs under tsx/Node, not inside jest:
 * `k8s/validate.ts` is the command and the jest suite calls it.
 */
import path from 'node:path';
import ts from 'typescript';
import type { K8sObject } from './kustomize';
import { K8S_ROOT, describe } from './kustomize';

/** The kubernetes-models package holding each CRD group's models; built-in groups live in `kubernetes-models`. */
const CRD_PACKAGES: Readonly<Record<string, string>> = {
  'kafka.strimzi.io': '@kubernetes-models/strimzi-kafka-operator',
  'postgresql.cnpg.io': '@kubernetes-models/cloudnative-pg',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
  'cert-manager.io': '@kubernetes-models/cert-manager',
};

/** One problem with one object. */
export interface SchemaProblem {
  /** `Kind/name`. */
  readonly object: string;
  readonly message: string;
}

/** The module that exports the model class of `apiVersion`/`kind`, e.g. `kubernetes-models/apps/v1/Deployment`. */
export function modelModule(apiVersion: string, kind: string): string {
  const slash = apiVersion.indexOf('/');
  if (slash < 0) return `kubernetes-models/${apiVersion}/${kind}`;
  const group = apiVersion.slice(0, slash);
  return `${CRD_PACKAGES[group] ?? 'kubernetes-models'}/${apiVersion}/${kind}`;
}

type ModelClass = new (data: unknown) => { validate(): void };

/** Validates every object with its kubernetes-models class; an object without a model is a problem too. */
export async function validateWithModels(objects: readonly K8sObject[]): Promise<SchemaProblem[]> {
  const problems: SchemaProblem[] = [];
  for (const obj of objects) {
    const specifier = modelModule(obj.apiVersion, obj.kind);
    let Model: ModelClass | undefined;
    try {
      Model = ((await import(specifier)) as Record<string, ModelClass | undefined>)[obj.kind];
    } catch {
      Model = undefined;
    }
    if (!Model) {
      problems.push({ object: describe(obj), message: `no schema for ${obj.apiVersion} ${obj.kind} (looked for ${specifier})` });
      continue;
    }
    try {
      new Model(obj).validate();
    } catch (error) {
      problems.push({ object: describe(obj), message: (error as Error).message });
    }
  }
  return problems;
}

/**
 * Type-checks every object against the TypeScript interface of its model (`I<Kind>`), as an object
 * literal, so that unknown fields are errors at any depth. Objects without a model are skipped here
 * (`validateWithModels` reports them).
 */
export function validateWithTypes(objects: readonly K8sObject[]): SchemaProblem[] {
  // An .mts file: ES module resolution, which the models' package.json "exports" require.
  const file = path.join(K8S_ROOT, '.schema-check.generated.mts');
  const lines: string[] = [];
  const spans: Array<{ from: number; to: number; object: string }> = [];
  objects.forEach((obj, i) => {
    const specifier = modelModule(obj.apiVersion, obj.kind);
    lines.push(`import type { I${obj.kind} as T${i} } from '${specifier}';`);
  });
  objects.forEach((obj, i) => {
    const from = lines.length;
    lines.push(...`export const o${i}: T${i} = ${JSON.stringify(obj, null, 1)};`.split('\n'));
    spans.push({ from, to: lines.length, object: describe(obj) });
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    lib: ['lib.es2022.d.ts'],
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (f) => (path.resolve(f) === file ? source : readFile(f));
  host.fileExists = (f) => path.resolve(f) === file || fileExists(f);
  host.getSourceFile = (f, languageVersion, ...rest) =>
    path.resolve(f) === file ? ts.createSourceFile(f, source, languageVersion, true) : getSourceFile(f, languageVersion, ...rest);
  const program = ts.createProgram({ rootNames: [file], options, host });
  const sourceFile = program.getSourceFile(file);
  const problems: SchemaProblem[] = [];
  for (const d of ts.getPreEmitDiagnostics(program, sourceFile)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) {
      problems.push({ object: '(type check)', message });
      continue;
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    const span = spans.find((s) => line >= s.from && line < s.to);
    if (!span) {
      // An import line: the model module or its I<Kind> interface does not exist.
      problems.push({ object: '(type check)', message: `${lines[line] ?? ''}: ${message}` });
      continue;
    }
    const field = sourceFile ? fieldPath(sourceFile, d.start) : '';
    problems.push({ object: span.object, message: `${field ? `${field}: ` : ''}${message}` });
  }
  return problems;
}

/** The JSON path (e.g. `spec.template.spec.containers[0].ports`) of the innermost object-literal field at `position`. */
function fieldPath(sourceFile: ts.SourceFile, position: number): string {
  let node: ts.Node = sourceFile;
  for (;;) {
    const child: ts.Node | undefined = node.forEachChild((c) => (c.getStart(sourceFile) <= position && position < c.getEnd() ? c : undefined));
    if (!child) break;
    node = child;
  }
  const parts: string[] = [];
  for (let n: ts.Node | undefined = node; n && !ts.isVariableDeclaration(n); n = n.parent) {
    const parent: ts.Node | undefined = n.parent;
    if (ts.isPropertyAssignment(n) && ts.isStringLiteral(n.name)) parts.unshift(`.${n.name.text}`);
    else if (parent && ts.isArrayLiteralExpression(parent)) parts.unshift(`[${parent.elements.indexOf(n as ts.Expression)}]`);
  }
  return parts.join('').replace(/^\./, '');
}
