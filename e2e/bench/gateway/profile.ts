/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): self time per function and per package, idle
 * time left out, so that "where does the gateway's CPU go" reads as one short table.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  /** Busy time sampled (ms), idle excluded. */
  readonly busyMs: number;
  readonly functions: ReadonlyArray<{ readonly name: string; readonly where: string; readonly selfMs: number; readonly share: number }>;
  readonly packages: ReadonlyArray<{ readonly name: string; readonly selfMs: number; readonly share: number }>;
}

/** The package a script belongs to (`@apollo/gateway`, `graphql`, `node:internal`, `ours: gateway/src`, …). */
function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return 'node (core)';
  const repo = /\/(gateway|packages\/[^/]+|e2e)\/src\//.exec(url) ?? /\/(e2e)\//.exec(url);
  return repo ? `ours: ${repo[1]}` : url;
}

/** Self time by function and by package over one or more profiles (e.g. every round's window). */
export function summariseProfile(files: readonly string[], top = 25): ProfileSummary {
  const self: Array<{ frame: ProfileNode['callFrame']; ms: number }> = [];
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const selfById = new Map<number, number>();
    // timeDeltas[i] is the time before sample i; it is charged to sample i (the usual convention).
    profile.samples.forEach((id, i) => selfById.set(id, (selfById.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
    for (const [id, ms] of selfById) self.push({ frame: byId.get(id)!.callFrame, ms });
  }
  const functions = new Map<string, { name: string; where: string; selfMs: number }>();
  const packages = new Map<string, number>();
  let busyMs = 0;
  for (const { frame, ms } of self) {
    const { functionName, url, lineNumber } = frame;
    // Idle, and the inspector call that stops the profiler (the profiler's own cost, not the gateway's).
    if (functionName === '(idle)' || url === 'node:inspector') continue;
    busyMs += ms;
    const name = functionName || '(anonymous)';
    const short = url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*?\/(gateway|packages|e2e)\//, '$1/');
    const where = url ? `${short}:${lineNumber + 1}` : '';
    const key = `${name} ${where}`;
    const f = functions.get(key) ?? { name, where, selfMs: 0 };
    f.selfMs += ms;
    functions.set(key, f);
    const pkg = packageOf(url, functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + ms);
  }
  const share = (ms: number): number => (busyMs ? ms / busyMs : 0);
  return {
    busyMs,
    functions: [...functions.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top).map((f) => ({ ...f, share: share(f.selfMs) })),
    packages: [...packages.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([name, selfMs]) => ({ name, selfMs, share: share(selfMs) })),
  };
}

export function formatProfile(summary: ProfileSummary, requests: number, label = 'ours'): string {
  const lines = [`CPU profile of ${label} over the measured windows: ${summary.busyMs.toFixed(0)} ms on the main thread (idle excluded)${requests ? `, ${(summary.busyMs / requests).toFixed(2)} ms per request` : ''}`];
  lines.push('', 'self time by package:');
  for (const p of summary.packages) lines.push(`  ${(p.share * 100).toFixed(1).padStart(5)} %  ${p.name}`);
  lines.push('', 'top functions by self time:');
  for (const f of summary.functions) lines.push(`  ${(f.share * 100).toFixed(1).padStart(5)} %  ${f.name}  ${f.where}`);
  return lines.join('\n');
}
