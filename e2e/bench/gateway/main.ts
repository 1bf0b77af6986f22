/**
 * `npm run bench:gateway [-- --rounds 3 --duration 15 …]`
 *
 * Four static stub subgraphs built from our subgraph SDLs (stub-subgraphs.ts), our supergraph
 * composed from schema/ with their URLs, and the nested listing query across all four subgraphs
 * (workload.ts), against each gateway (gateways.ts) in its own process pinned to one core, the
 * stubs and the load generator on the other; rounds interleaved; bodies compared. Prints one table
 * (run.ts, report.ts). Loopback only; ports 4470-4489 by default (--base-port 0: free ports).
 *
 * Scenarios (scenarios.ts), one table each: uncached (ours and its peers, a unique Authorization
 * per request), coalescing (anonymous identical requests: ours with and without coalescing, Hive's
 * Rust runtime with and without deduplication), workers (ours on one core vs one worker per core).
 *
 * Options (defaults in brackets):
 *   --scenario <list> [uncached,coalescing,workers]
 *   --gateways <list> [the scenario's]
 *   --rounds <n> [3]  --duration <s> [15]  --warmup <s> [5]  --connections <n> [16]
 *   --base-port <port> [4470]  --host <address> [127.0.0.1]
 *   --no-pin                  do not pin with taskset  --gateway-cpu <n> [0]  --load-cpu <n> [1]
 *   --profile <dir>           a V8 CPU profile of ours per measured window into <dir>; prints the top functions after the table
 *   --baseline <rev>          also run ours as of <rev> (its gateway/) beside the working tree's
 *   --baseline-node-flags=<f> Node flags of the baseline's process only (space-separated; with "=")
 *   --json <file>             also write the raw report as JSON
 *   --help
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { GatewayKind } from './gateways';
import { GATEWAY_KINDS, GATEWAY_LABELS, MORE_KINDS } from './gateways';
import { formatProfile, summariseProfile } from './profile';
import { formatReport } from './report';
import type { BenchSettings } from './run';
import { DEFAULT_SETTINGS, PROFILED_KINDS, runGatewayBench } from './run';
import type { Scenario } from './scenarios';
import { DEFAULT_SCENARIOS, SCENARIOS } from './scenarios';
import type { Workload } from './cached';
import { WORKLOADS } from './cached';

function workloadOption(raw: string | undefined): Workload {
  if (raw === undefined) return 'listing';
  if (!(WORKLOADS as readonly string[]).includes(raw)) throw new Error(`--workload: unknown workload "${raw}" (known: ${WORKLOADS.join(', ')})`);
  return raw as Workload;
}

const HELP = `npm run bench:gateway -- [options]

Compares our gateway with vanilla @apollo/gateway and Hive Gateway (JS planner; Rust runtime with
and without upstream deduplication) on four stub subgraphs, one core per gateway, in scenarios:
${Object.values(SCENARIOS).map((sc) => `  ${sc.name.padEnd(12)} ${sc.gateways.join(', ')}`).join('\n')}

  --scenario <list>     comma-separated, one table each [${DEFAULT_SCENARIOS.join(',')}]
  --gateways <list>     comma-separated, ours first [each scenario's]
  --rounds <n>          rounds, each runs every gateway once, interleaved [${DEFAULT_SETTINGS.rounds}]
  --duration <s>        measured seconds per gateway and round [${DEFAULT_SETTINGS.durationS}]
  --warmup <s>          unmeasured seconds before each window [${DEFAULT_SETTINGS.warmupS}]
  --connections <n>     closed-loop clients [${DEFAULT_SETTINGS.connections}]
  --base-port <port>    stubs on base..base+3, gateways from base+5; 0 = free ports [${DEFAULT_SETTINGS.basePort}]
  --host <address>      [${DEFAULT_SETTINGS.host}]
  --no-pin              do not pin processes with taskset
  --gateway-cpu <n>     core of every gateway [${DEFAULT_SETTINGS.gatewayCpu}]
  --load-cpu <n>        core of the stubs and the load generator [${DEFAULT_SETTINGS.loadCpu}]
  --profile <dir>       CPU-profile ours in each measured window (V8 profiler, as --cpu-prof)
                        into <dir>/ours-round-<n>.cpuprofile and print its top functions
  --baseline <rev>      also run ours as of git revision <rev> (its gateway/), right after ours
                        (with the cache on, right after ours-cached, in the cached scenario):
                        before/after figures of a change in one interleaved run
  --baseline-node-flags=<flags>
                        Node flags of the baseline's process only, space-separated (with
                        --baseline HEAD: a V8 flag such as --max-semi-space-size=64 against the same code)
  --json <file>         also write the raw report as JSON
  --workload <name>     listing (the nested query) or browsing (20 products with price, rating and
                        stock: public data only, what the entity cache of ours-cached serves) [listing]
  --help                this text
`;

type Options = Omit<BenchSettings, 'scenario' | 'gateways'> & { readonly scenarios: readonly Scenario[]; readonly gateways?: readonly GatewayKind[] | undefined; readonly json?: string | undefined };

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      scenario: { type: 'string' },
      gateways: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      'base-port': { type: 'string' },
      host: { type: 'string' },
      'no-pin': { type: 'boolean', default: false },
      'gateway-cpu': { type: 'string' },
      'load-cpu': { type: 'string' },
      profile: { type: 'string' },
      baseline: { type: 'string' },
      'baseline-node-flags': { type: 'string' },
      json: { type: 'string' },
      workload: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const number = (name: string, raw: string | undefined, fallback: number, min: number): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}, got "${raw}"`);
    return n;
  };
  const known: readonly string[] = [...GATEWAY_KINDS, ...MORE_KINDS];
  const gateways = values.gateways?.split(',').map((g) => g.trim()).filter(Boolean) as GatewayKind[] | undefined;
  for (const g of gateways ?? []) if (!known.includes(g)) throw new Error(`--gateways: unknown gateway "${g}" (known: ${known.join(', ')})`);
  const scenarios = (values.scenario?.split(',').map((x) => x.trim()).filter(Boolean) ?? [...DEFAULT_SCENARIOS]).map((name) => {
    const scenario = SCENARIOS[name];
    if (!scenario) throw new Error(`--scenario: unknown scenario "${name}" (known: ${Object.keys(SCENARIOS).join(', ')})`);
    return scenario;
  });
  return {
    scenarios,
    gateways,
    rounds: number('rounds', values.rounds, DEFAULT_SETTINGS.rounds, 1),
    durationS: number('duration', values.duration, DEFAULT_SETTINGS.durationS, 0.1),
    warmupS: number('warmup', values.warmup, DEFAULT_SETTINGS.warmupS, 0),
    connections: number('connections', values.connections, DEFAULT_SETTINGS.connections, 1),
    basePort: number('base-port', values['base-port'], DEFAULT_SETTINGS.basePort, 0),
    host: values.host ?? DEFAULT_SETTINGS.host,
    pin: !values['no-pin'],
    gatewayCpu: number('gateway-cpu', values['gateway-cpu'], DEFAULT_SETTINGS.gatewayCpu, 0),
    loadCpu: number('load-cpu', values['load-cpu'], DEFAULT_SETTINGS.loadCpu, 0),
    profileDir: values.profile ? path.resolve(values.profile) : undefined,
    baseline: values.baseline,
    baselineNodeFlags: values['baseline-node-flags']?.split(/\s+/).filter(Boolean),
    json: values.json,
    workload: workloadOption(values.workload),
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let settings: ReturnType<typeof parseOptions>;
  try {
    settings = parseOptions(argv);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${HELP}`);
    process.exit(2);
  }
  const { scenarios, gateways, json, ...common } = settings;
  const reports = [];
  for (const scenario of scenarios) {
    // Each scenario's profiles in a directory of its own.
    const profileDir = common.profileDir && scenarios.length > 1 ? path.join(common.profileDir, scenario.name) : common.profileDir;
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    const report = await runGatewayBench({ ...common, profileDir, scenario, gateways: gateways ?? scenario.gateways }, (line) => process.stderr.write(`${scenario.name}: ${line}\n`));
    reports.push(report);
    process.stdout.write(`${formatReport(report, `npm run bench:gateway -- ${argv.join(' ')}`.trim())}\n\n`);
    if (profileDir) {
      for (const kind of PROFILED_KINDS) {
        const profiles = readdirSync(profileDir).filter((f) => f.startsWith(`${kind}-round-`) && /-round-\d+\.cpuprofile$/.test(f)).map((f) => path.join(profileDir, f));
        const measured = report.gateways.find((g) => g.gateway === kind);
        const requests = measured?.samples.reduce((n, w) => n + w.requests, 0) ?? 0;
        if (profiles.length) process.stdout.write(`${formatProfile(summariseProfile(profiles), requests, GATEWAY_LABELS[kind])}\n\n`);
      }
    }
  }
  if (json) writeFileSync(json, JSON.stringify(reports, null, 2));
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:gateway failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
});
