/** The chaos run's printed table: one row per fault window, then the invariants. */
import type { WindowStats } from './timeline';
import type { InvariantResult } from './invariants';
import { formatCodes } from './invariants';

export interface FaultRow {
  readonly fault: string;
  /** Seconds the window lasted (from the fault to the next one, or to the end of the load). */
  readonly windowS: number;
  readonly orders: WindowStats;
  readonly reads: WindowStats;
  /** Seconds from the restart to ready, and to the first order acknowledged after it; null for the baseline, or never. */
  readonly readyS: number | null;
  readonly recoveredS: number | null;
}

export interface ChaosReport {
  readonly command: string;
  readonly rows: readonly FaultRow[];
  readonly invariants: readonly InvariantResult[];
  readonly durationS: number;
  readonly loadAverage: { readonly start: readonly number[]; readonly end: readonly number[] };
  readonly settings: string;
}

export function formatReport(r: ChaosReport): string {
  const header = ['fault', 'window s', 'orders acked', 'failed requests (codes)', 'catalogue reads ok / failed', 'restart → ready s', 'restart → first order s'];
  const rows = r.rows.map((row) => [
    row.fault,
    row.windowS.toFixed(1),
    String(row.orders.ok),
    row.orders.failed ? `${row.orders.failed} (${formatCodes(row.orders.codes)})` : '0',
    `${row.reads.ok} / ${row.reads.failed}${row.reads.failed ? ` (${formatCodes(row.reads.codes)})` : ''}`,
    row.readyS === null ? '-' : row.readyS.toFixed(1),
    row.recoveredS === null ? (row.fault === 'baseline (no fault)' ? '-' : 'never') : row.recoveredS.toFixed(1),
  ]);
  const lines = [
    `chaos run: ${r.command}`,
    `${r.settings}; ${r.durationS.toFixed(0)} s in all; load average ${fmt(r.loadAverage.start)} at the start, ${fmt(r.loadAverage.end)} at the end`,
    '',
    ...markdownTable(header, rows),
    '',
    ...markdownTable(
      ['invariant', 'result', 'detail'],
      r.invariants.map((i) => [i.name, i.ok ? 'ok' : 'BROKEN', i.detail]),
    ),
  ];
  return lines.join('\n');
}

function markdownTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const line = (cells: readonly string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)];
}

function fmt(l: readonly number[]): string {
  return l.map((x) => x.toFixed(2)).join(' ');
}
