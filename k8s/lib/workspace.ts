/**
 * What the code says about the services, for the manifest checks: which workspaces are deployable
 * services, and which environment variables each one reads directly (`process.env[...]`) besides
 * its validated settings objects (`*Env`).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './kustomize';

/** A deployable service: a workspace with a `start` script and `src/main.ts`. */
export interface ServiceWorkspace {
  /** `gateway`, `users`, … (the package name without its scope). */
  readonly name: string;
  /** Folder relative to the repository root, e.g. `subgraphs/users`. */
  readonly dir: string;
  readonly kind: 'gateway' | 'subgraph';
}

/** Workspace folders of the root package.json (`dir/*` patterns expanded). */
export function workspaceDirs(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { workspaces?: string[] };
  const dirs: string[] = [];
  for (const pattern of pkg.workspaces ?? []) {
    if (pattern.endsWith('/*')) {
      const parent = pattern.slice(0, -2);
      const abs = path.join(REPO_ROOT, parent);
      if (!existsSync(abs)) continue;
      for (const child of readdirSync(abs).sort()) if (statSync(path.join(abs, child)).isDirectory()) dirs.push(`${parent}/${child}`);
    } else {
      dirs.push(pattern);
    }
  }
  return dirs.filter((d) => existsSync(path.join(REPO_ROOT, d, 'package.json')));
}

/** Every deployable service of the workspace, sorted by name. */
export function serviceWorkspaces(): ServiceWorkspace[] {
  const services: ServiceWorkspace[] = [];
  for (const dir of workspaceDirs()) {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, dir, 'package.json'), 'utf8')) as { name: string; scripts?: Record<string, string> };
    if (!pkg.scripts?.['start'] || !existsSync(path.join(REPO_ROOT, dir, 'src/main.ts'))) continue;
    const name = pkg.name.replace(/^@[^/]+\//, '');
    services.push({ name, dir, kind: name === 'gateway' ? 'gateway' : 'subgraph' });
  }
  return services.sort((a, b) => a.name.localeCompare(b.name));
}

/** TypeScript sources under `dir` (relative to the root), tests and test helpers excluded. */
function sources(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string): void => {
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      const p = path.join(abs, entry.name);
      if (entry.isDirectory()) {
        if (!['node_modules', 'tests', 'testing'].includes(entry.name)) walk(p);
      } else if (/\.ts$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)) {
        out.push(p);
      }
    }
  };
  const abs = path.join(REPO_ROOT, dir);
  if (existsSync(abs)) walk(abs);
  return out.sort();
}

/**
 * The source folders a service's process loads: its own `src` and the `src` of every @shop/*
 * workspace it depends on (transitively, production dependencies only).
 */
export function runtimeSourceDirs(service: ServiceWorkspace): string[] {
  const byName = new Map<string, string>();
  for (const dir of workspaceDirs()) {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, dir, 'package.json'), 'utf8')) as { name: string };
    byName.set(pkg.name, dir);
  }
  const seen = new Set<string>();
  const todo = [service.dir];
  while (todo.length) {
    const dir = todo.pop() as string;
    if (seen.has(dir)) continue;
    seen.add(dir);
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies ?? {})) {
      const depDir = byName.get(dep);
      if (depDir) todo.push(depDir);
    }
  }
  return [...seen].sort().map((d) => `${d}/src`);
}

/** Names of the environment variables read directly (`process.env['X']` / `process.env.X`) in `dirs`. */
export function directEnvReads(dirs: readonly string[]): Set<string> {
  const names = new Set<string>();
  const pattern = /process\.env(?:\[\s*['"`]([A-Z0-9_]+)['"`]\s*\]|\.([A-Z0-9_]+))/g;
  for (const dir of dirs) {
    for (const file of sources(dir)) {
      for (const m of readFileSync(file, 'utf8').matchAll(pattern)) names.add((m[1] ?? m[2]) as string);
    }
  }
  return names;
}
