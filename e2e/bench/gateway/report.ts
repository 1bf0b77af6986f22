/** The plain-text table of one gateway benchmark run (what `npm run bench:gateway` prints and the notes keep). */
import { GATEWAY_LABELS } from './gateways';
import type { BenchReport, GatewaySummary, WindowSample } from './run';

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The median over a gateway's windows of one figure. */
export function medianOf(summary: GatewaySummary, figure: (s: WindowSample) => number): number {
  return median(summary.samples.map(figure));
}

const loadAverage = (l: readonly number[]): string => l.map((x) => x.toFixed(2)).join(' ');

export function formatReport(report: BenchReport, command: string): string {
  const s = report.settings;
  const lines: string[] = [];
  lines.push(s.scenario.title);
  lines.push(
    `${s.rounds} rounds × ${s.durationS} s (warm-up ${s.warmupS} s), ${s.connections} connections, ${report.cpus} CPUs, ` +
      (report.pinned ? `gateways pinned to CPU ${s.gatewayCpu}${s.gateways.includes('ours-workers') ? ' (but ours-workers: every CPU)' : ''}, stubs + load generator to CPU ${s.loadCpu}` : 'NOT pinned (taskset unavailable or one CPU)') +
      `, Node ${report.node}, started ${report.startedAt}`,
  );
  lines.push(`command: ${command}`);
  lines.push(`load average (1/5/15 min): start ${loadAverage(report.loadAverage.start)}, end ${loadAverage(report.loadAverage.end)}`);
  lines.push('');
  const ours = report.gateways.find((g) => g.gateway === s.gateways[0] && g.samples.length);
  const oursRps = ours ? medianOf(ours, (w) => w.rps) : NaN;
  const oursCpu = ours ? medianOf(ours, (w) => w.cpuMsPerRequest) : NaN;
  const header = ['gateway', 'req/s median (min–max)', 'p50 / p95 / p99 ms', 'CPU ms/req', 'subgraph req/req', 'req/s ÷ ours', 'CPU ÷ ours', 'body', 'load core', 'errors'];
  const rows: string[][] = [header];
  for (const g of report.gateways) {
    if (g.failed) {
      rows.push([GATEWAY_LABELS[g.gateway], `could not run: ${g.failed}`]);
      continue;
    }
    const rps = g.samples.map((w) => w.rps);
    const errors = g.samples.reduce((sum, w) => sum + Object.values(w.errors).reduce((a, b) => a + b, 0), 0);
    const rpsMedian = medianOf(g, (w) => w.rps);
    const cpu = medianOf(g, (w) => w.cpuMsPerRequest);
    rows.push([
      GATEWAY_LABELS[g.gateway],
      `${rpsMedian.toFixed(0)} (${Math.min(...rps).toFixed(0)}–${Math.max(...rps).toFixed(0)})`,
      [medianOf(g, (w) => w.latencyMs.p50), medianOf(g, (w) => w.latencyMs.p95), medianOf(g, (w) => w.latencyMs.p99)].map((x) => x.toFixed(1)).join(' / '),
      cpu.toFixed(2),
      medianOf(g, (w) => w.subgraphRequestsPerRequest).toFixed(2),
      (rpsMedian / oursRps).toFixed(2),
      (cpu / oursCpu).toFixed(2),
      g.bodyProblem ? `BAD: ${g.bodyProblem}` : g.bodyEqualsFirst ? 'identical' : 'DIFFERS',
      `${(medianOf(g, (w) => w.loadCoreBusy) * 100).toFixed(0)} %`,
      String(errors),
    ]);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r.length === 2 && i > 0 ? 0 : (r[i] ?? '').length))));
  for (const r of rows) lines.push((r.length === 2 ? `${r[0]!.padEnd(widths[0]!)}  ${r[1]!}` : r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).trimEnd());
  lines.push('');
  lines.push('medians over the rounds; CPU = the gateway process and its workers (user + system, all threads) over the measured window ÷ requests; body: the same JSON as the first gateway\'s (parsed and printed again, key order kept)');
  lines.push('(every response of a window is also compared with that window\'s first: a difference counts as an error); load core: CPU used by the stubs and the load generator (100 % would mean the figures are theirs)');
  const bad = report.gateways.flatMap((g) => g.samples.filter((w) => Object.keys(w.errors).length).map((w) => `${g.gateway} round ${w.round + 1}: ${Object.entries(w.errors).map(([k, v]) => `${k} ${v}`).join(', ')}`));
  if (bad.length) lines.push(`errors: ${bad.join('; ')}`);
  return lines.join('\n');
}
