/** The plain-text table of one benchmark run (what `npm run bench:checkout` prints and the notes keep). */
import type { LimitSample } from './db-limit';
import type { BenchReport, PhaseReport, Quantiles } from './run';
import { formatLoad } from './run';

const LABEL_WIDTH = 44;
const COLUMN_WIDTH = 24;

export function formatReport(report: BenchReport, limit: readonly LimitSample[] | null, command: string): string {
  const s = report.settings;
  const lines: string[] = [];
  lines.push(`Checkout benchmark: ${report.bus} bus, ${report.cpus} CPUs, ${s.durationS} s per phase, started ${report.startedAt}`);
  lines.push(`command: ${command}`);
  lines.push(`load average (1/5/15 min): start ${formatLoad(report.loadAverage.start)}, end ${formatLoad(report.loadAverage.end)}`);
  lines.push('');
  const phases = report.phases;
  const row = (label: string, cell: (p: PhaseReport) => string): void => {
    lines.push(`${label.padEnd(LABEL_WIDTH)}${phases.map((p) => cell(p).padEnd(COLUMN_WIDTH)).join('')}`.trimEnd());
  };
  row('', (p) => ({ closed: 'closed loop', open: 'open loop', hot: 'hot product' })[p.phase]);
  row('', (p) => (p.phase === 'open' ? `${s.rate}/s Poisson` : `${s.customers} customers`));
  row('', (p) => (p.phase === 'hot' ? '1 product' : `${s.products} products`));
  row('orders acknowledged / created', (p) => `${p.acknowledged} / ${p.created}`);
  row('placed/s', (p) => p.placedPerS.toFixed(1));
  row('confirmed/s within the phase', (p) => p.confirmedInPhasePerS.toFixed(1));
  row('confirmed/s until drained', (p) => p.confirmedToDrainPerS.toFixed(1));
  row('drained after the phase (s)', (p) => (p.drainS === null ? `NOT within ${s.drainTimeoutS}` : p.drainS.toFixed(1)));
  row('placeOrder p50 / p95 (ms)', (p) => `${ms(p.placeOrderMs.p50)} / ${ms(p.placeOrderMs.p95)}`);
  row('placed→CONFIRMED p50/p95/p99 (ms)', (p) => triple(p.placedToConfirmedMs));
  row('outcomes', (p) => Object.entries(p.outcomes).map(([k, v]) => `${k.replace('REJECTED ', 'REJ ')} ${v}`).join(', ') || '-');
  row('failed requests / dropped arrivals', (p) => `${Object.values(p.errors).reduce((a, b) => a + b, 0)} / ${p.dropped}`);
  row('SQL statements per order created', (p) => `${p.sql.perOrder.toFixed(1)} (gross ${p.sql.perOrderGross.toFixed(1)})`);
  row('  of which BEGIN/COMMIT/…', (p) => `${(p.sql.txShare * 100).toFixed(0)} %`);
  for (const db of ['users', 'catalog', 'inventory', 'orders', 'eventbus']) {
    if (phases.some((p) => p.sql.perOrderByDb[db] !== undefined)) row(`  ${db} database`, (p) => (p.sql.perOrderByDb[db] ?? 0).toFixed(1));
  }
  row('  /metrics db_query_… per order', (p) => Object.values(p.sql.metricsPerOrder).reduce((a, b) => a + b, 0).toFixed(1));
  row('lost / duplicated / not final', (p) => `${p.correctness.lost} / ${p.correctness.duplicated} / ${p.correctness.notFinal}`);
  row('orders of timed-out requests / unexplained', (p) => `${p.correctness.ordersOfFailedRequests} / ${p.correctness.unexplained}`);
  row('load average at start / end (1 min)', (p) => `${p.loadAverage.start[0]!.toFixed(2)} / ${p.loadAverage.end[0]!.toFixed(2)}`);
  const errors = phases.filter((p) => Object.keys(p.errors).length);
  for (const p of errors) lines.push(`failed requests (${p.phase}): ${Object.entries(p.errors).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push('');
  const idle = report.idle;
  lines.push(
    `idle SQL statements/s (${idle.seconds.toFixed(0)} s, no load): ${Object.entries(idle.sqlPerSByDb).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}` +
      `; /metrics: ${Object.entries(idle.metricsPerS).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`,
  );
  const st = report.stock;
  lines.push(
    `stock (${st.products} products): oversold units ${st.oversoldUnits}, negative or over-reserved ${st.negative}, reserved ≠ open reservations ${st.reservedMismatch}, ` +
      `order ↔ inventory mismatches ${st.orderInventoryMismatch}`,
  );
  if (limit?.length) {
    lines.push('');
    lines.push('database limit, the reservation statement alone (statements/s, autocommit, same cluster):');
    const conns = [...new Set(limit.map((l) => l.connections))];
    const spread = limit.find((l) => l.case === 'spread');
    lines.push(`  ${'connections'.padEnd(14)}${`spread (${spread?.products ?? '?'} products)`.padEnd(COLUMN_WIDTH)}hot (1 product)`);
    for (const n of conns) {
      const cell = (kase: 'spread' | 'hot'): string => {
        const l = limit.find((x) => x.connections === n && x.case === kase);
        return l ? `${l.perSecond.toFixed(0)} (p95 ${l.p95Ms.toFixed(1)} ms)` : '-';
      };
      lines.push(`  ${String(n).padEnd(14)}${cell('spread').padEnd(COLUMN_WIDTH)}${cell('hot')}`);
    }
    const best = (kase: 'spread' | 'hot'): number => Math.max(...limit.filter((l) => l.case === kase).map((l) => l.perSecond));
    for (const p of phases) {
      const kase = p.phase === 'hot' ? 'hot' : 'spread';
      lines.push(
        `ours (${p.phase}): confirmed/s ${p.confirmedInPhasePerS.toFixed(1)} within the phase = ${pct(p.confirmedInPhasePerS / best(kase))} of the ${kase} limit (${best(kase).toFixed(0)}/s, best N); ` +
          `placed/s ${p.placedPerS.toFixed(1)} = ${pct(p.placedPerS / best(kase))}`,
      );
    }
  }
  for (const p of phases) {
    if (!p.sql.byStatement?.length) continue;
    lines.push('');
    lines.push(`statements per order created (${p.phase}, gross, --sql-profile; the most frequent ${p.sql.byStatement.length}):`);
    for (const st of p.sql.byStatement) lines.push(`  ${st.perOrder.toFixed(2).padStart(6)}  ${st.db.padEnd(10)} ${st.text}`);
  }
  const closed = phases.find((p) => p.phase === 'closed');
  const hot = phases.find((p) => p.phase === 'hot');
  if (closed && hot && closed.confirmedInPhasePerS > 0) {
    lines.push(`hot product vs spread (closed loop): confirmed/s ${pct(hot.confirmedInPhasePerS / closed.confirmedInPhasePerS)}, placed/s ${pct(hot.placedPerS / closed.placedPerS)}`);
  }
  return lines.join('\n');
}

function ms(x: number): string {
  return Number.isNaN(x) ? '-' : x.toFixed(0);
}

function triple(q: Quantiles): string {
  return `${ms(q.p50)}/${ms(q.p95)}/${ms(q.p99)}`;
}

function pct(x: number): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : '-';
}
