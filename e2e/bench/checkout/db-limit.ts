/**
 * The database's own limit on this box for the reservation statement alone: N concurrent
 * connections, each running the conditional stock update back to back (one statement, its own
 * transaction: autocommit), for a few seconds, on a spread of products and on one hot product.
 *
 * The statement is the core of inventory's reservation (`StockRepository.changeLevels` after
 * `lockStock`, subgraphs/inventory/src/persistence/stock.repository.ts) folded into one
 * conditional UPDATE, on a table of the same shape and checks as inventory's `stock`, in a
 * scratch database of the same cluster (dropped afterwards). Whatever the shop does per
 * reservation on top (lock, reservation rows, decision, inbox, outbox, events) can only be slower.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { withDatabase } from '@shop/platform';
import { BENCH_APPLICATION_NAME } from './sql-counter';

export const RESERVATION_STATEMENT = `UPDATE stock SET reserved = reserved + $1, version = version + 1, updated_at = now()
  WHERE product_id = $2 AND on_hand - reserved >= $1`;

export interface LimitSample {
  readonly connections: number;
  readonly case: 'spread' | 'hot';
  readonly products: number;
  readonly statements: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  /** Statements that matched no row (stock exhausted): must be 0 with this much stock. */
  readonly unmatched: number;
}

export interface LimitOptions {
  /** An admin URL of the cluster (database `postgres`). */
  readonly adminUrl: string;
  readonly connections: readonly number[];
  readonly seconds: number;
  /** Products of the spread case. */
  readonly products: number;
  readonly log?: (line: string) => void;
}

export async function measureDatabaseLimit(options: LimitOptions): Promise<LimitSample[]> {
  const name = `bench_limit_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: options.adminUrl, application_name: BENCH_APPLICATION_NAME });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = withDatabase(options.adminUrl, name);
  const samples: LimitSample[] = [];
  try {
    const setup = new Client({ connectionString: url, application_name: BENCH_APPLICATION_NAME });
    await setup.connect();
    // Inventory's stock table, as its migration creates it.
    await setup.query(`CREATE TABLE stock (
      product_id uuid PRIMARY KEY,
      on_hand int NOT NULL CHECK (on_hand >= 0),
      reserved int NOT NULL DEFAULT 0 CHECK (reserved >= 0),
      low_stock_threshold int NOT NULL DEFAULT 5 CHECK (low_stock_threshold >= 0),
      initial_on_hand int NOT NULL DEFAULT 0 CHECK (initial_on_hand >= 0),
      version int NOT NULL DEFAULT 1,
      updated_at timestamptz NOT NULL DEFAULT now(),
      closed_at timestamptz,
      CONSTRAINT stock_not_oversold CHECK (reserved <= on_hand))`);
    const ids = Array.from({ length: options.products }, () => randomUUID());
    await setup.query(`INSERT INTO stock (product_id, on_hand, initial_on_hand) SELECT id, 2000000000, 2000000000 FROM unnest($1::uuid[]) AS id`, [ids]);
    await setup.end();
    for (const kase of ['spread', 'hot'] as const) {
      for (const n of options.connections) {
        const sample = await runOne(url, n, options.seconds, kase === 'hot' ? ids.slice(0, 1) : ids, kase);
        samples.push(sample);
        options.log?.(`  database limit: ${String(n).padStart(2)} connections, ${kase.padEnd(6)} ${sample.perSecond.toFixed(0).padStart(6)} statements/s (p50 ${sample.p50Ms.toFixed(1)} ms, p95 ${sample.p95Ms.toFixed(1)} ms)`);
      }
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
  return samples;
}

async function runOne(url: string, connections: number, seconds: number, productIds: readonly string[], kase: 'spread' | 'hot'): Promise<LimitSample> {
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const c = new Client({ connectionString: url, application_name: BENCH_APPLICATION_NAME });
      await c.connect();
      await c.query('SELECT 1');
      return c;
    }),
  );
  const latencies: number[] = [];
  let unmatched = 0;
  try {
    const started = performance.now();
    const endsAt = started + seconds * 1000;
    await Promise.all(
      clients.map(async (c) => {
        while (performance.now() < endsAt) {
          const productId = productIds[Math.floor(Math.random() * productIds.length)]!;
          const t0 = performance.now();
          const res = await c.query(RESERVATION_STATEMENT, [1, productId]);
          latencies.push(performance.now() - t0);
          if (res.rowCount !== 1) unmatched++;
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      connections,
      case: kase,
      products: productIds.length,
      statements: latencies.length,
      seconds: elapsed,
      perSecond: latencies.length / elapsed,
      p50Ms: quantile(latencies, 0.5),
      p95Ms: quantile(latencies, 0.95),
      unmatched,
    };
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

/** The q-quantile of ascending `sorted` (nearest rank); NaN when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
