/**
 * CI smoke of the checkout benchmark (e2e/bench/checkout): the same code as `npm run bench:checkout`,
 * for a few seconds with a few customers, on the in-process bus of the test harness's shop. It
 * asserts correctness only (every acknowledged order final, exactly one order per acknowledgement,
 * no oversell, orders and inventory agree), never a speed figure. The hot product has less stock
 * than it may be asked for, so the race for the last units is part of the run whenever it happens.
 */
import { randomUUID } from 'node:crypto';
import { testDatabaseUrl } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import { measureDatabaseLimit } from './checkout/db-limit';
import { runLoad } from './checkout/load';
import { formatReport } from './checkout/report';
import type { BenchReport, BenchSettings, BenchTarget } from './checkout/run';
import { BENCH_SHOP_SETTINGS, DEFAULT_SETTINGS, runCheckoutBench } from './checkout/run';
import { installSqlCounter } from './checkout/sql-counter';

const HOT_STOCK = 10;

describe('checkout benchmark, smoke (in-process bus)', () => {
  let shop: TestShop;
  let report: BenchReport;

  beforeAll(async () => {
    installSqlCounter();
    shop = await startTestShop({ bus: 'in-process', settings: BENCH_SHOP_SETTINGS });
    const target: BenchTarget = {
      bus: 'in-process',
      gatewayUrl: shop.url,
      servicePorts: {
        users: shop.supergraph.services.users.port,
        catalog: shop.supergraph.services.catalog.port,
        inventory: shop.supergraph.services.inventory.port,
        orders: shop.supergraph.services.orders.port,
      },
      databaseUrl: (name) => (name === 'eventbus' ? undefined : shop.databaseUrl(name)),
      tokenFor: (userId, roles) => shop.tokenFor({ userId, roles, sessionId: randomUUID(), expiresInSeconds: 3600 }),
    };
    const settings: BenchSettings = { ...DEFAULT_SETTINGS, durationS: 3, customers: 4, rate: 10, products: 5, hotStock: HOT_STOCK, drainTimeoutS: 90, idleS: 1, warmupS: 1 };
    report = await runCheckoutBench(target, settings, { runLoad });
  }, 240_000);

  afterAll(async () => {
    await shop?.stop();
  });

  it('should run every phase and bring every acknowledged order to a final state, exactly once', () => {
    expect(report.phases.map((p) => p.phase)).toEqual(['closed', 'open', 'hot']);
    for (const p of report.phases) {
      expect({ phase: p.phase, errors: p.errors, drained: p.drainS !== null }).toEqual({ phase: p.phase, errors: {}, drained: true });
      expect(p.acknowledged).toBeGreaterThan(0);
      expect(p.correctness).toEqual({ acknowledged: p.acknowledged, lost: 0, notFinal: 0, duplicated: 0, ordersOfFailedRequests: 0, unexplained: 0 });
    }
  });

  it('should confirm every order of the spread phases (approving card, ample stock)', () => {
    for (const p of report.phases.filter((x) => x.phase !== 'hot')) expect(p.outcomes).toEqual({ CONFIRMED: p.acknowledged });
  });

  it('should sell the hot product exactly up to its stock: no oversell, no order refused while stock was left', () => {
    const hot = report.phases.find((p) => p.phase === 'hot')!;
    const confirmed = Math.min(hot.acknowledged, HOT_STOCK);
    const expected: Record<string, number> = { CONFIRMED: confirmed };
    if (hot.acknowledged > HOT_STOCK) expected['REJECTED OUT_OF_STOCK'] = hot.acknowledged - HOT_STOCK;
    expect(hot.outcomes).toEqual(expected);
  });

  it('should leave stock consistent: nothing oversold, reserved equal to the open reservations, orders and inventory agreeing', () => {
    expect(report.stock).toEqual({ products: 6, oversoldUnits: 0, negative: 0, reservedMismatch: 0, orderInventoryMismatch: 0 });
  });

  it('should print the table', () => {
    const text = formatReport(report, null, 'smoke');
    for (const row of ['placed/s', 'confirmed/s within the phase', 'placeOrder p50 / p95 (ms)', 'placed→CONFIRMED p50/p95/p99 (ms)', 'SQL statements per order', 'oversold units 0', 'load average']) {
      expect(text).toContain(row);
    }
  });

  it('should measure the database limit with the reservation statement matching a row every time', async () => {
    const samples = await measureDatabaseLimit({ adminUrl: testDatabaseUrl(), connections: [2], seconds: 0.3, products: 4 });
    expect(samples.map((s) => [s.case, s.connections, s.unmatched])).toEqual([
      ['spread', 2, 0],
      ['hot', 2, 0],
    ]);
    for (const s of samples) expect(s.statements).toBeGreaterThan(0);
  });
});
