/**
 * How many concurrent subscriptions one gateway process holds, and the delivery latency at that
 * load. Not a test (not run by jest): run it by hand, on loopback only, against the test database:
 *
 *   TEST_DATABASE_URL=postgres://… node --expose-gc --import tsx e2e/subscriptions/bench/load.bench.ts
 *
 * It starts a whole shop in this process (in-process bus; the subgraphs share the process with the
 * gateway, but carry little of the load: one upstream subscription per product), forks a client
 * process (load-clients.ts), and for each level opens more graphql-ws connections x subscriptions
 * of stockChanged over 10 products, then changes stock 20 times (one every 100 ms, round robin over
 * the products) and reports the latency from the change to the arrival at the client, the
 * gateway's own delivery histogram, and this process's memory. Every loop is bounded; it stops at
 * the first level whose p99 exceeds 2 s or whose connections fail.
 *
 * BENCH_LEVELS overrides the levels: "connections x subscriptions-per-connection,…" (cumulative
 * totals), e.g. "250x4,1000x5,2000x10,4000x10".
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { registry } from '@shop/platform';
import { eventually } from '@shop/platform/testing';
import { demoProducts } from '../../orders/orders-flow';
import { startTestShop } from '../../support/harness';
import { ADJUST } from '../support';

const LEVELS = (process.env['BENCH_LEVELS'] ?? '250x4,1000x5,2000x10,4000x10').split(',').map((l) => {
  const [c, s] = l.split('x').map(Number);
  return { connections: c!, perConnection: s! };
});
const EVENTS_PER_LEVEL = 20;

interface ClientStats {
  received: number;
  errors: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

async function histogramBuckets(): Promise<Map<number, number>> {
  const metric = await registry.getSingleMetric('gateway_subscription_delivery_latency_seconds')?.get();
  const buckets = new Map<number, number>();
  for (const v of metric?.values ?? []) {
    if (!String((v as { metricName?: string }).metricName).endsWith('_bucket')) continue;
    const le = v.labels['le'] === '+Inf' ? Number.POSITIVE_INFINITY : Number(v.labels['le']);
    buckets.set(le, (buckets.get(le) ?? 0) + v.value);
  }
  return buckets;
}

/** The bucket bound under which `p` % of the samples observed between two snapshots fall. */
function bucketPercentile(before: Map<number, number>, after: Map<number, number>, p: number): string {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  for (const le of bounds) {
    if ((after.get(le) ?? 0) - (before.get(le) ?? 0) >= (p / 100) * total) return le === Number.POSITIVE_INFINITY ? '>10 s' : `≤${le * 1000} ms`;
  }
  return 'n/a';
}

async function main(): Promise<void> {
  const shop = await startTestShop({ seed: true });
  const child = fork(path.join(__dirname, 'load-clients.ts'), { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const ask = <T>(message: unknown): Promise<T> =>
    new Promise((resolve) => {
      child.once('message', (answer) => resolve(answer as T));
      child.send(message as never);
    });
  try {
    const products = (await demoProducts(shop)).slice(0, 10);
    const admin = await shop.tokenFor({ roles: ['ADMIN'] });
    const url = shop.url.replace('http:', 'ws:');
    const rows: string[] = [];
    let total = 0;
    let connections = 0;
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const baseline = process.memoryUsage();
    for (const level of LEVELS) {
      const adding = level.connections * level.perConnection - total;
      const addConnections = level.connections - connections;
      if (adding <= 0 || addConnections <= 0) continue;
      const perConnection = Math.round(adding / addConnections);
      const opened = await ask<{ opened: number; failed: number }>({ cmd: 'open', url, productIds: products.map((p) => p.id), connections: addConnections, perConnection });
      if (opened.failed) {
        rows.push(`| ${level.connections} | ${total + adding} | ${opened.failed} connections failed | | | | |`);
        break;
      }
      total += addConnections * perConnection;
      connections = level.connections;
      const active = async () => {
        const m = await registry.getSingleMetric('gateway_subscriptions_active')?.get();
        return (m?.values ?? []).reduce((sum, v) => sum + v.value, 0);
      };
      await eventually(async () => (await active()) >= total, 120_000, 250);
      await new Promise((r) => setTimeout(r, 1_000));
      gc?.();
      const memory = process.memoryUsage();
      await ask({ cmd: 'reset' });
      const before = await histogramBuckets();
      const started = Date.now();
      for (let i = 0; i < EVENTS_PER_LEVEL; i++) {
        const product = products[i % products.length]!;
        const res = await shop.gql(ADJUST, { id: product.id, delta: 1 }, admin);
        if (res.errors) throw new Error(JSON.stringify(res.errors));
        await new Promise((r) => setTimeout(r, 100));
      }
      const expected = (EVENTS_PER_LEVEL * total) / products.length;
      let stats = await ask<ClientStats>({ cmd: 'stats' });
      const deadline = Date.now() + 60_000;
      while (stats.received + stats.errors < expected && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        stats = await ask<ClientStats>({ cmd: 'stats' });
      }
      const after = await histogramBuckets();
      const seconds = (Date.now() - started) / 1000;
      const mib = (n: number) => (n / 1024 / 1024).toFixed(0);
      rows.push(
        `| ${connections} | ${total} | ${stats.received}/${expected}${stats.errors ? ` (${stats.errors} errors)` : ''} | ${stats.p50} / ${stats.p95} / ${stats.p99} / ${stats.max} ms | ${bucketPercentile(before, after, 50)} / ${bucketPercentile(before, after, 99)} | ${mib(memory.rss)} MiB (heap ${mib(memory.heapUsed - baseline.heapUsed)} MiB over idle) | ${(stats.received / seconds).toFixed(0)}/s |`,
      );
      process.stdout.write(`${rows.at(-1)}\n`);
      if (stats.p99 > 2_000 || stats.received < expected) break;
    }
    process.stdout.write(
      [
        '',
        '| connections | subscriptions | events received | client latency p50 / p95 / p99 / max | gateway histogram p50 / p99 | process memory | deliveries |',
        '|---|---|---|---|---|---|---|',
        ...rows,
        '',
      ].join('\n'),
    );
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.send({ cmd: 'close' });
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    child.kill();
    await shop.stop();
  }
}

void main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error instanceof Error ? error.stack : error)}\n`);
    process.exit(1);
  },
);
