/**
 * Counts every SQL statement the shop sends, per database, at the driver: a wrapper around
 * `pg.Client.prototype.query`, which TypeORM's pools, the in-process bus's pool and every other
 * pg client of this process go through. It sees what `db_query_duration_seconds` (TypeORM only)
 * does not: the in-process bus's log and offsets. Connections whose `application_name` is
 * BENCH_APPLICATION_NAME (the benchmark's own reads) are not counted.
 *
 * Installed once per module instance (per jest test file, per process for the CLI), before the
 * shop starts; it only counts, it changes no behaviour.
 */
import { Client } from 'pg';

export const BENCH_APPLICATION_NAME = 'checkout-bench';

/** Statements by database name; `tx` counts transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT…) among them. */
export interface SqlCounts {
  readonly [database: string]: { readonly statements: number; readonly tx: number };
}

const counts = new Map<string, { statements: number; tx: number }>();
/** Statements by database and text (whitespace folded, first 160 characters), only while profiling. */
const texts = new Map<string, number>();
let profiling = false;
let installed = false;
const TX_CONTROL = /^\s*(BEGIN|START\s+TRANSACTION|COMMIT|ROLLBACK|SAVEPOINT|RELEASE\s+SAVEPOINT|END)\b/i;

export function installSqlCounter(): void {
  if (installed) return;
  installed = true;
  const proto = Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function countedQuery(this: { database?: string; connectionParameters?: { application_name?: string } }, ...args: unknown[]): unknown {
    if (this.connectionParameters?.application_name !== BENCH_APPLICATION_NAME) {
      const database = this.database ?? '?';
      let entry = counts.get(database);
      if (!entry) counts.set(database, (entry = { statements: 0, tx: 0 }));
      entry.statements++;
      const first = args[0];
      const text = typeof first === 'string' ? first : typeof (first as { text?: unknown } | null)?.text === 'string' ? (first as { text: string }).text : '';
      if (TX_CONTROL.test(text)) entry.tx++;
      if (profiling) {
        const key = `${database}\t${text.replace(/\s+/g, ' ').trim().slice(0, 160)}`;
        texts.set(key, (texts.get(key) ?? 0) + 1);
      }
    }
    return original.apply(this, args);
  };
}

/** Also counts statements by their text (`--sql-profile`): for finding where the statements of an order go. */
export function profileSqlTexts(): void {
  profiling = true;
}

/** Statements by text: what {@link sqlTextCounts} returns. */
export type SqlTextCounts = ReadonlyMap<string, number>;

/** A copy of the per-text counters now (empty unless {@link profileSqlTexts} was called). */
export function sqlTextCounts(): SqlTextCounts {
  return new Map(texts);
}

/** A copy of the counters now. */
export function sqlCounts(): SqlCounts {
  return Object.fromEntries([...counts].map(([db, c]) => [db, { ...c }]));
}

/** `after - before`, per database. */
export function sqlDelta(before: SqlCounts, after: SqlCounts): SqlCounts {
  return Object.fromEntries(
    Object.entries(after).map(([db, c]) => [db, { statements: c.statements - (before[db]?.statements ?? 0), tx: c.tx - (before[db]?.tx ?? 0) }]),
  );
}
