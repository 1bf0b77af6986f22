/**
 * Sales report benchmark: 90 days of sales in the report's read model (every hour with orders,
 * 20 product lines per hour out of 2,000 products, in two currencies), then the latency of the report's reads as the
 * service answers `salesReport` (points + top products, in parallel), in a scratch database.
 *
 *   BENCH_DATABASE_URL=postgres://u:p@host:5432/postgres npx tsx subgraphs/orders/bench/sales-report-bench.ts
 *
 * Options: BENCH_RUNS (default 30), BENCH_DAYS (default 90). Prints Markdown.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { createDataSource, PlatformOutboxInbox1700000000000, withDatabase } from '@shop/platform';
import { OrdersSalesReport1700000500100 } from '../src/reports/1700000500100-orders-sales-report';
import type { ReportInterval } from '../src/reports/sales-report.repository';
import { SalesReportRepository } from '../src/reports/sales-report.repository';
import { TOP_PRODUCTS } from '../src/reports/sales-report';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 30);
const DAYS = Number(process.env['BENCH_DAYS'] ?? 90);

async function main(): Promise<void> {
  const adminUrl = process.env['BENCH_DATABASE_URL'];
  if (!adminUrl) throw new Error('set BENCH_DATABASE_URL (a Postgres server; a scratch database is created and dropped)');
  const dbName = `sales_bench_${randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const ds = createDataSource({ url: withDatabase(adminUrl, dbName), name: 'sales-bench', entities: [], migrations: [PlatformOutboxInbox1700000000000, OrdersSalesReport1700000500100] });
  try {
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    const t0 = Date.now();
    await ds.query('SELECT setseed(0.21)');
    await ds.query(
      `INSERT INTO sales_hour (currency_code, hour, orders, revenue)
       SELECT c, h, 5 + floor(random() * 40)::int, round((500 + random() * 5000)::numeric, 2)
       FROM unnest(ARRAY['USD', 'EUR']) c, generate_series(date_trunc('hour', now()) - $1::int * interval '1 day', date_trunc('hour', now()), interval '1 hour') h`,
      [DAYS],
    );
    await ds.query(
      `INSERT INTO sales_product_hour (currency_code, hour, product_id, units, revenue)
       SELECT c, h, 'product-' || (1 + floor(random() * 2000)::int), 1 + floor(random() * 3)::int, round((10 + random() * 300)::numeric, 2)
       FROM unnest(ARRAY['USD', 'EUR']) c, generate_series(date_trunc('hour', now()) - $1::int * interval '1 day', date_trunc('hour', now()), interval '1 hour') h, generate_series(1, 20)
       ON CONFLICT DO NOTHING`,
      [DAYS],
    );
    await ds.query(`INSERT INTO sales_product_day (currency_code, day, product_id, units, revenue)
      SELECT currency_code, date_trunc('day', hour, 'UTC'), product_id, sum(units), sum(revenue) FROM sales_product_hour GROUP BY 1, 2, 3`);
    await ds.query(`INSERT INTO sales_product_month (currency_code, month, product_id, units, revenue)
      SELECT currency_code, date_trunc('month', hour, 'UTC'), product_id, sum(units), sum(revenue) FROM sales_product_hour GROUP BY 1, 2, 3`);
    await ds.query('VACUUM ANALYZE sales_product_day');
    await ds.query('VACUUM ANALYZE sales_product_month');
    await ds.query('VACUUM ANALYZE sales_hour');
    await ds.query('VACUUM ANALYZE sales_product_hour');
    const [{ hours }] = (await ds.query('SELECT count(*)::int AS hours FROM sales_hour')) as [{ hours: number }];
    const [{ products }] = (await ds.query('SELECT count(*)::int AS products FROM sales_product_hour')) as [{ products: number }];
    process.stdout.write(`## Sales report benchmark: ${DAYS} days\n\n${hours} hourly rows, ${products} product-hour rows (2 currencies), generated in ${((Date.now() - t0) / 1000).toFixed(1)} s.\n\n`);
    process.stdout.write('| report | target p95 | p50 | p95 | met |\n|---|---:|---:|---:|---|\n');
    const repo = new SalesReportRepository(ds);
    const to = new Date();
    const cases: Array<[string, ReportInterval, number]> = [
      [`${DAYS} days by day`, 'DAY', DAYS],
      [`${DAYS} days by week`, 'WEEK', DAYS],
      ['31 days by hour', 'HOUR', 31],
    ];
    for (const [title, interval, days] of cases) {
      const from = new Date(to.getTime() - days * 86_400_000);
      const times: number[] = [];
      for (let i = 0; i < RUNS + 3; i++) {
        const started = process.hrtime.bigint();
        await Promise.all([repo.points('USD', from, to, interval), repo.topProducts('USD', from, to, TOP_PRODUCTS)]);
        if (i >= 3) times.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
      times.sort((a, b) => a - b);
      const p50 = times[Math.floor(times.length / 2)]!;
      const p95 = times[Math.min(times.length - 1, Math.floor(times.length * 0.95))]!;
      process.stdout.write(`| ${title} | 50 | ${p50.toFixed(1)} | ${p95.toFixed(1)} | ${p95 <= 50 ? 'yes' : 'no'} |\n`);
    }
  } finally {
    await ds.destroy().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
