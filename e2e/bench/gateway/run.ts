/**
 * The gateway benchmark's run: the stub subgraphs and the load generator in their own processes on
 * one core, every gateway in a process of its own pinned to the other core, then rounds of
 * (warm-up, measured window) per gateway, interleaved and in a rotating order, so that a change of
 * the machine's load during the run spreads over every gateway instead of one.
 *
 * Per measured window: requests per second, latency percentiles, the gateway process's CPU time
 * (/proc/<pid>/stat, every thread: JIT, GC helpers included) per request, subgraph requests per
 * request (counted by the stubs) and how busy the load core was (a saturated load core would make
 * the figures the generator's, not the gateway's).
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GatewayKind, GatewayStartOptions } from './gateways';
import { isOurs } from './gateways';
import type { LoadResult, LoadSpec } from './load';
import type { Child, Message } from './processes';
import { canPin, processCpuMs, startChild } from './processes';
import type { Scenario } from './scenarios';
import { UNCACHED } from './scenarios';
import { answerProblem, benchSupergraph } from './workload';
import type { Workload } from './cached';
import { BROWSING_BODY, browsingProblem } from './cached';

/** The gateways `--profile` profiles: ours, ours with the own executor, the baseline, ours with the cache and its baseline (`<kind>-round-<n>.cpuprofile`). */
export const PROFILED_KINDS: readonly GatewayKind[] = ['ours', 'ours-own', 'ours-baseline', 'ours-cached', 'ours-cached-baseline'];

/** The gateways with the baseline commit's beside them: with the cache right after `ours-cached` when it runs, else `ours-baseline` right after the first. */
function withBaseline(gateways: readonly GatewayKind[]): GatewayKind[] {
  const cached = gateways.indexOf('ours-cached');
  const at = cached >= 0 ? cached + 1 : 1;
  return [...gateways.slice(0, at), cached >= 0 ? 'ours-cached-baseline' : 'ours-baseline', ...gateways.slice(at)];
}

export interface BenchSettings {
  /** What is measured: the title, how requests are authorized (scenarios.ts). Default the uncached listing. */
  readonly scenario: Scenario;
  /** Gateways to compare, `ours` first (the ratios are to ours). Default the scenario's. */
  readonly gateways: readonly GatewayKind[];
  /** Rounds; each runs every gateway once. Default 3. */
  readonly rounds: number;
  /** Seconds of unmeasured load before each window. Default 5. */
  readonly warmupS: number;
  /** Seconds of each measured window. Default 15. */
  readonly durationS: number;
  /** Concurrent clients (closed loop, one connection each). Default 16. */
  readonly connections: number;
  /** Loopback address of every server. Default 127.0.0.1. */
  readonly host: string;
  /** First port: stubs on base..base+3, gateways from base+5 on; 0 picks free ports. Default 4470. */
  readonly basePort: number;
  /** Pin gateways to `gatewayCpu` and stubs + load to `loadCpu` with taskset. Default true where taskset works. */
  readonly pin: boolean;
  readonly gatewayCpu: number;
  readonly loadCpu: number;
  /**
   * A git revision whose gateway/ also runs, as `ours-baseline` (right after ours; with the cache on,
   * as `ours-cached-baseline`, right after `ours-cached`, when the scenario runs it), for
   * before/after figures of a change in the same interleaved run. Default none.
   */
  readonly baseline?: string | undefined;
  /** Node flags of the baseline's process only (e.g. `--max-semi-space-size=64` with `--baseline HEAD`: a V8 flag measured against the same code). Default none. */
  readonly baselineNodeFlags?: readonly string[] | undefined;
  /** Where ours (and ours with the own executor) writes a V8 CPU profile of each measured window (ours-round-<n>.cpuprofile), or undefined for none. */
  readonly profileDir?: string | undefined;
  /** The query every client sends (cached.ts): the nested `listing` (default) or `browsing`. */
  readonly workload?: Workload | undefined;
}

export const DEFAULT_SETTINGS: BenchSettings = {
  scenario: UNCACHED,
  gateways: UNCACHED.gateways,
  rounds: 3,
  warmupS: 5,
  durationS: 15,
  connections: 16,
  host: '127.0.0.1',
  basePort: 4470,
  pin: true,
  gatewayCpu: 0,
  loadCpu: 1,
};

export interface WindowSample {
  readonly gateway: GatewayKind;
  readonly round: number;
  readonly requests: number;
  readonly rps: number;
  readonly latencyMs: LoadResult['latencyMs'];
  readonly cpuMsPerRequest: number;
  readonly subgraphRequestsPerRequest: number;
  /** Share of one core that the stubs and the load generator used (1 = saturated). */
  readonly loadCoreBusy: number;
  readonly errors: Record<string, number>;
}

export interface GatewaySummary {
  readonly gateway: GatewayKind;
  readonly samples: readonly WindowSample[];
  /** The first answer's body, and what is wrong with it (null: the full answer). */
  readonly body: string;
  readonly bodyProblem: string | null;
  /**
   * Whether its body is the first gateway's: the same JSON text once parsed and printed again (key
   * order kept), so only insignificant whitespace may differ (Apollo Server ends its body with a
   * newline, Hive's does not).
   */
  readonly bodyEqualsFirst: boolean;
  /** Why it could not run (start failed), if so. */
  readonly failed?: string;
}

export interface BenchReport {
  readonly settings: BenchSettings;
  readonly pinned: boolean;
  readonly cpus: number;
  readonly node: string;
  readonly startedAt: string;
  readonly loadAverage: { readonly start: readonly number[]; readonly end: readonly number[] };
  readonly gateways: readonly GatewaySummary[];
}

interface RunningGatewayChild {
  readonly kind: GatewayKind;
  readonly child: Child;
  readonly url: string;
  /** Every process whose CPU is the gateway's: the child, and its workers if it has any. */
  readonly pids: readonly number[];
}

/** Runs the benchmark; `log` receives progress lines (stderr in the command). */
export async function runGatewayBench(settings: BenchSettings, log: (line: string) => void = () => undefined): Promise<BenchReport> {
  const startedAt = new Date().toISOString();
  const loadStart = os.loadavg();
  const pinned = settings.pin && canPin() && os.availableParallelism() >= 2;
  const cpuOf = (role: 'gateway' | 'load'): number | undefined => (pinned ? (role === 'gateway' ? settings.gatewayCpu : settings.loadCpu) : undefined);
  // One worker per core runs on every core: not pinned.
  const gatewayCpu = (kind: GatewayKind): number | undefined => (kind === 'ours-workers' ? undefined : cpuOf('gateway'));
  const port = (offset: number): number => (settings.basePort === 0 ? 0 : settings.basePort + offset);
  const secret = randomBytes(32).toString('hex');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gateway-bench-'));
  const children: Child[] = [];
  const failed = new Map<GatewayKind, string>();
  try {
    const stubs = await startChild('stubs', 'stubs.process.ts', [settings.host, [0, 1, 2, 3].map(port).join(',')], { cpu: cpuOf('load') });
    children.push(stubs.child);
    const subgraphUrls = stubs.ready['urls'] as Record<string, string>;
    const supergraphFile = path.join(dir, 'supergraph.graphql');
    const baselineDir = settings.baseline ? extractBaseline(settings.baseline, dir) : undefined;
    const kinds: GatewayKind[] = settings.baseline ? withBaseline(settings.gateways) : [...settings.gateways];
    writeFileSync(supergraphFile, benchSupergraph(subgraphUrls));
    // Started side by side (loading the modules is most of a start), kept in the settings' order.
    const started = await Promise.all(
      kinds.map(async (kind, i): Promise<RunningGatewayChild | undefined> => {
        const options: GatewayStartOptions = { kind, port: port(5 + i), host: settings.host, supergraphFile, subgraphUrls, secret, baselineDir };
        try {
          const { child, ready } = await startChild(kind, 'gateway.process.ts', [JSON.stringify(options)], { cpu: gatewayCpu(kind), env: { NODE_ENV: 'production' }, ...(kind === 'ours-baseline' && settings.baselineNodeFlags?.length ? { nodeFlags: settings.baselineNodeFlags } : {}) });
          children.push(child);
          const pids = [child.pid, ...((ready['pids'] as number[] | undefined) ?? [])];
          log(`${kind}: ${String(ready['url'])} (pid ${pids.join(', ')})`);
          return { kind, child, url: ready['url'] as string, pids };
        } catch (error) {
          failed.set(kind, error instanceof Error ? error.message.split('\n')[0]! : String(error));
          log(`${kind}: could not start: ${failed.get(kind)!}`);
          return undefined;
        }
      }),
    );
    const gateways = started.filter((g): g is RunningGatewayChild => g !== undefined);
    const load = await startChild('load', 'load.process.ts', [], { cpu: cpuOf('load') });
    children.push(load.child);

    const samples = new Map<GatewayKind, WindowSample[]>();
    const bodies = new Map<GatewayKind, string>();
    for (let round = 0; round < settings.rounds; round++) {
      const order = gateways.map((_, i) => gateways[(i + round) % gateways.length]!);
      for (const g of order) {
        const sample = await measureWindow(g, stubs.child, load.child, settings, secret, round);
        bodies.set(g.kind, bodies.get(g.kind) || sample.body);
        samples.set(g.kind, [...(samples.get(g.kind) ?? []), sample.window]);
        log(
          `round ${round + 1}/${settings.rounds} ${g.kind}: ${sample.window.rps.toFixed(0)} req/s, p95 ${sample.window.latencyMs.p95.toFixed(1)} ms, ` +
            `${sample.window.cpuMsPerRequest.toFixed(2)} CPU ms/req, ${sample.window.subgraphRequestsPerRequest.toFixed(2)} subgraph req/req, load core ${(sample.window.loadCoreBusy * 100).toFixed(0)} %`,
        );
      }
    }
    const firstBody = canonicalJson(bodies.get(gateways[0]?.kind ?? 'ours') ?? '');
    const summaries: GatewaySummary[] = kinds.map((kind) => {
      const body = bodies.get(kind) ?? '';
      const why = failed.get(kind);
      return {
        gateway: kind,
        samples: samples.get(kind) ?? [],
        body,
        bodyProblem: why ? null : (settings.scenario.workload ?? settings.workload) === 'browsing' ? browsingProblem(body) : answerProblem(body),
        bodyEqualsFirst: !why && firstBody !== null && canonicalJson(body) === firstBody,
        ...(why ? { failed: why } : {}),
      };
    });
    return { settings, pinned, cpus: os.availableParallelism(), node: process.version, startedAt, loadAverage: { start: loadStart, end: os.loadavg() }, gateways: summaries };
  } finally {
    for (const child of children.reverse()) await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Writes `rev`'s gateway/ into `<dir>/baseline` (git archive: no worktree registered in the shared
 * repository) and answers that directory.
 */
function extractBaseline(rev: string, dir: string): string {
  const target = path.join(dir, 'baseline');
  mkdirSync(target);
  const root = execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: __dirname, encoding: 'utf8' }).trim();
  const archive = execFileSync('git', ['archive', '--format=tar', rev, 'gateway'], { cwd: root, maxBuffer: 256 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', target], { input: archive });
  // Its imports resolve from this checkout's node_modules (the directory is outside the checkout).
  symlinkSync(path.join(root, 'node_modules'), path.join(target, 'node_modules'), 'dir');
  // And the gateway's own (versions npm did not hoist, such as lru-cache 11).
  if (existsSync(path.join(root, 'gateway/node_modules'))) symlinkSync(path.join(root, 'gateway/node_modules'), path.join(target, 'gateway/node_modules'), 'dir');
  return target;
}

/** The JSON text printed again without insignificant whitespace (key order kept); null when not JSON. */
function canonicalJson(text: string): string | null {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return null;
  }
}

async function measureWindow(g: RunningGatewayChild, stubs: Child, load: Child, settings: BenchSettings, secret: string, round: number): Promise<{ window: WindowSample; body: string }> {
  const spec: LoadSpec = {
    url: g.url,
    connections: settings.connections,
    warmupS: settings.warmupS,
    durationS: settings.durationS,
    authorization: settings.scenario.authorization === 'anonymous' ? 'none' : isOurs(g.kind) ? 'jwt' : 'opaque',
    secret,
    ...((settings.scenario.workload ?? settings.workload) === 'browsing' ? { body: BROWSING_BODY } : {}),
  };
  const loadCpu = (): number => processCpuMs(load.pid) + processCpuMs(stubs.pid);
  const counts = async (): Promise<number> => Object.values((await stubs.ask<Message & { counts: Record<string, number> }>({ type: 'counts' }, 'counts:done')).counts).reduce((a, b) => a + b, 0);
  const measuring = load.next('measuring', (settings.warmupS + 60) * 1000);
  const done = load.ask<Message & { result: LoadResult }>({ type: 'run', spec }, 'run:done', (settings.warmupS + settings.durationS + 120) * 1000);
  // Whichever fails first is the error; the other must not become an unhandled rejection.
  done.catch(() => undefined);
  await measuring;
  const profile = settings.profileDir && PROFILED_KINDS.includes(g.kind) ? path.join(settings.profileDir, `${g.kind}-round-${round + 1}.cpuprofile`) : undefined;
  if (profile) await g.child.ask({ type: 'profile-start' }, 'profile-start:done');
  const t0 = performance.now();
  const gatewayCpuMs = (): number => g.pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
  const cpu0 = gatewayCpuMs();
  const load0 = loadCpu();
  const sub0 = await counts();
  const { result } = await done;
  const cpu1 = gatewayCpuMs();
  if (profile) await g.child.ask({ type: 'profile-stop', file: profile }, 'profile-stop:done');
  const load1 = loadCpu();
  const sub1 = await counts();
  const wall = (performance.now() - t0) / 1000;
  const n = Math.max(1, result.requests);
  return {
    body: result.body,
    window: {
      gateway: g.kind,
      round,
      requests: result.requests,
      rps: result.requests / result.seconds,
      latencyMs: result.latencyMs,
      cpuMsPerRequest: (cpu1 - cpu0) / n,
      subgraphRequestsPerRequest: (sub1 - sub0) / n,
      loadCoreBusy: (load1 - load0) / 1000 / wall,
      errors: result.errors,
    },
  };
}
