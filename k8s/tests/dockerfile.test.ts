/**
 * The container image, checked without a Docker engine: the Dockerfile's structure (multi-stage,
 * production dependencies only, non-root, distroless, tsx entrypoint), what its sources stage copies
 * (its script is run here for real), and the build context that .dockerignore leaves.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../lib/kustomize';
import { serviceWorkspaces, workspaceDirs } from '../lib/workspace';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

interface Stage {
  readonly name: string;
  readonly from: string;
  readonly instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions (comments dropped, line continuations joined). */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const lines = text.split('\n').filter((l) => !/^\s*#/.test(l));
  const joined = lines.join('\n').replace(/\\\n/g, ' ');
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const keyword = (m[1] as string).toUpperCase();
    const rest = (m[2] as string).trim();
    if (keyword === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      stages.push({ from: f?.[1] ?? rest, name: f?.[2] ?? String(stages.length), instructions: [] });
      continue;
    }
    if (keyword === 'ARG' && !stages.length) {
      const [name, value = ''] = rest.split('=');
      args.set(name as string, value);
    }
    stages[stages.length - 1]?.instructions.push({ keyword, args: rest });
  }
  return { args, stages };
}

/** Expands `${NAME}` with the global ARG defaults. */
function expand(value: string, args: Map<string, string>): string {
  return value.replace(/\$\{(\w+)\}/g, (_, name: string) => expand(args.get(name) ?? '', args));
}

/** True when .dockerignore keeps `file` (a path relative to the context) out of the build context. */
function ignored(patterns: readonly string[], file: string): boolean {
  const toRegex = (pattern: string): RegExp =>
    new RegExp(
      `^${pattern
        .replace(/[.+^$()|[\]{}]/g, '\\$&')
        .replace(/\*\*\//g, '\u0000')
        .replace(/\*\*/g, '.*')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')
        .replace(/\u0000/g, '(?:.*/)?')}$`,
    );
  const parts = file.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let out = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, '');
    const re = toRegex(pattern);
    // A pattern that matches a directory excludes everything below it.
    if (prefixes.some((p) => re.test(p))) out = !negated;
  }
  return out;
}

const dockerfile = parseDockerfile(readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const services = serviceWorkspaces();
const finalStage = dockerfile.stages[dockerfile.stages.length - 1] as Stage;
const stage = (name: string): Stage => {
  const s = dockerfile.stages.find((x) => x.name === name);
  if (!s) throw new Error(`Dockerfile has no stage ${name}`);
  return s;
};

describe('Dockerfile', () => {
  it('should document the build of every service of the workspace', () => {
    const text = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
    for (const s of services) {
      expect({ service: s.name, documented: text.includes(`--build-arg WORKSPACE=${s.dir} `) }).toEqual({ service: s.name, documented: true });
      expect({ service: s.name, main: existsSync(path.join(REPO_ROOT, s.dir, 'src/main.ts')) }).toEqual({ service: s.name, main: true });
    }
  });

  it('should build in several stages and run the last one on a distroless image as a numeric non-root user', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(3);
    expect(expand(finalStage.from, dockerfile.args)).toMatch(/^gcr\.io\/distroless\/nodejs\d+-debian\d+:nonroot$/);
    const users = finalStage.instructions.filter((i) => i.keyword === 'USER');
    expect(users).toHaveLength(1);
    const [uid, gid] = (users[0] as Instruction).args.split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    expect(Number(gid ?? uid)).toBeGreaterThan(0);
    // The manifests run the pods as the image's user.
    for (const s of services) {
      const d = parse(readFileSync(path.join(REPO_ROOT, 'k8s/base', s.name, 'deployment.yaml'), 'utf8')) as { spec: { template: { spec: { securityContext: { runAsUser: number; runAsGroup: number } } } } };
      expect({ service: s.name, runAs: [d.spec.template.spec.securityContext.runAsUser, d.spec.template.spec.securityContext.runAsGroup] }).toEqual({ service: s.name, runAs: [Number(uid), Number(gid ?? uid)] });
    }
  });

  it('should put only the production dependencies and the service sources in the final stage', () => {
    const kinds = new Set(finalStage.instructions.map((i) => i.keyword));
    expect(kinds.has('RUN')).toBe(false);
    expect(kinds.has('ADD')).toBe(false);
    const copies = finalStage.instructions.filter((i) => i.keyword === 'COPY');
    expect(copies.map((c) => /--from=(\S+)/.exec(c.args)?.[1]).sort()).toEqual(['deps', 'graphiql', 'sources']);
    const install = stage('deps').instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join(' ');
    expect(install).toMatch(/npm ci\b[^;&]*--omit=dev/);
    expect(install).toMatch(/npm ci\b[^;&]*--workspace/);
  });

  it('should build GraphiQL’s bundle once, in the gateway image, with the gateway’s own build, where the runtime’s GRAPHIQL_BUNDLE_DIR points', () => {
    const graphiql = stage('graphiql');
    // On the production dependencies and the sources the runtime gets, nothing else.
    expect(graphiql.from).toBe('deps');
    expect(graphiql.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args)).toEqual(['--from=sources /out/ /app/']);
    const run = graphiql.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join(' ');
    const built = /if \[ "\$\{WORKSPACE\}" = gateway \]; then (node --import tsx (\S+)) (\S+); fi/.exec(run);
    expect(built).not.toBeNull();
    const [, command, script, out] = built as unknown as [string, string, string, string];
    expect(run).toContain(`mkdir -p ${out};`);
    // The command the gateway names when it refuses a directory, running the gateway's build (bundle.ts).
    expect(readFileSync(path.join(REPO_ROOT, 'gateway/src/graphiql/bundle.ts'), 'utf8')).toContain(`PREBUILD_COMMAND = '${command}'`);
    expect(readFileSync(path.join(REPO_ROOT, script), 'utf8')).toMatch(/import \{ writePrebuiltBundle \} from '\.\/bundle'/);
    // The runtime copies it and points the gateway at it (gateway/src/config.ts reads the setting).
    const dir = finalStage.instructions.flatMap((i) => (i.keyword === 'ENV' ? [/^GRAPHIQL_BUNDLE_DIR=(\S+)$/.exec(i.args)?.[1]] : [])).find(Boolean);
    expect(dir).toBeDefined();
    expect(finalStage.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args)).toContain(`--from=graphiql ${out}/ ${dir}/`);
    expect(readFileSync(path.join(REPO_ROOT, 'gateway/src/config.ts'), 'utf8')).toMatch(/^\s+GRAPHIQL_BUNDLE_DIR: /m);
  });

  it('should start main.ts through tsx and pass the container arguments to it (`migrate`)', () => {
    const entrypoint = finalStage.instructions.filter((i) => i.keyword === 'ENTRYPOINT');
    expect(entrypoint).toHaveLength(1);
    const argv = JSON.parse((entrypoint[0] as Instruction).args) as string[];
    expect(argv.slice(1)).toEqual(['--import', 'tsx', 'src/main.ts']);
    expect(finalStage.instructions.some((i) => i.keyword === 'CMD')).toBe(false);
    expect(finalStage.instructions.filter((i) => i.keyword === 'WORKDIR').map((i) => i.args)).toEqual(['/app/${WORKSPACE}']);
  });

  it('should have tsx among the production dependencies of every service, since the image runs it', () => {
    const byName = new Map(workspaceDirs().map((d) => [(JSON.parse(readFileSync(path.join(REPO_ROOT, d, 'package.json'), 'utf8')) as { name: string }).name, d]));
    const missing: string[] = [];
    for (const s of services) {
      const seen = new Set<string>();
      const deps = new Set<string>();
      const todo = [s.dir];
      while (todo.length) {
        const dir = todo.pop() as string;
        if (seen.has(dir)) continue;
        seen.add(dir);
        for (const dep of Object.keys((JSON.parse(readFileSync(path.join(REPO_ROOT, dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {})) {
          deps.add(dep);
          const ws = byName.get(dep);
          if (ws) todo.push(ws);
        }
      }
      if (!deps.has('tsx')) missing.push(`${s.dir}/package.json`);
    }
    // `npm ci --omit=dev` leaves out devDependencies, and tsx is only a root devDependency today:
    // the image build stops with "tsx must be a production dependency". Add "tsx" to "dependencies".
    expect(missing).toEqual([]);
  });

  it('should copy the service and the @shop workspaces it depends on, without tests or other services', () => {
    const run = stage('sources').instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join(' ');
    const script = /node -e '([\s\S]*?)' "\$\{WORKSPACE\}" \/out/.exec(run)?.[1];
    expect(script).toBeDefined();
    for (const s of services) {
      const out = mkdtempSync(path.join(os.tmpdir(), 'k8s-image-sources-'));
      try {
        execFileSync(process.execPath, ['-e', script as string, s.dir, out], { cwd: REPO_ROOT });
        const copied = ['packages', 'subgraphs', 'gateway'].flatMap((top) => (existsSync(path.join(out, top)) ? (top === 'gateway' ? ['gateway'] : readdirSync(path.join(out, top)).map((d) => `${top}/${d}`)) : []));
        const expected = s.kind === 'gateway' ? ['gateway', 'packages/events', 'packages/platform'] : ['packages/events', 'packages/platform', s.dir];
        expect({ service: s.name, copied: copied.sort() }).toEqual({ service: s.name, copied: expected.sort() });
        expect(existsSync(path.join(out, s.dir, 'src/main.ts'))).toBe(true);
        for (const dir of copied) expect({ dir, tests: existsSync(path.join(out, dir, 'tests')) }).toEqual({ dir, tests: false });
        // What the graphiql stage builds from: the bundler and the browser sources.
        if (s.kind === 'gateway') for (const file of ['src/graphiql/bundle.main.ts', 'src/graphiql/browser/main.js']) expect({ file, copied: existsSync(path.join(out, s.dir, file)) }).toEqual({ file, copied: true });
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    }
    // The gateway reads the composed supergraph from ../../schema/supergraph.graphql.
    expect(run).toContain('cp schema/supergraph.graphql /out/schema/');
    expect(readFileSync(path.join(REPO_ROOT, 'gateway/src/gateway.ts'), 'utf8')).toContain("'../../schema/supergraph.graphql'");
  });
});

describe('.dockerignore', () => {
  const patterns = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('should keep dependencies, local data, caches, git and secrets out of the build context', () => {
    for (const file of ['node_modules/zod/package.json', 'subgraphs/users/node_modules/x/index.js', '.git/HEAD', '.data/postgres/PG_VERSION', '.cache/bin/kustomize', 'subgraphs/users/.env', '.env.production', 'k8s/base/kustomization.yaml', 'e2e/support/harness.ts']) {
      expect({ file, ignored: ignored(patterns, file) }).toEqual({ file, ignored: true });
    }
  });

  it('should keep what the build needs: the lockfile, every workspace package.json, the sources and the supergraph', () => {
    const needed = ['package.json', 'package-lock.json', 'schema/supergraph.graphql', ...workspaceDirs().map((d) => `${d}/package.json`), ...services.map((s) => `${s.dir}/src/main.ts`), 'packages/platform/src/index.ts'];
    for (const file of needed) expect({ file, ignored: ignored(patterns, file) }).toEqual({ file, ignored: false });
    // The manifests stage finds workspace package.json files with */package.json and */*/package.json.
    for (const dir of workspaceDirs()) expect({ dir, depth: dir.split('/').length <= 2 }).toEqual({ dir, depth: true });
  });
});
