/**
 * Backpressure made visible: with the payment provider slowed down, placed orders answer at once
 * as PENDING while the orders service's /metrics shows the saga backlog and the age of the oldest
 * PENDING order rising; once the payments go through, both return to 0 and the counters the
 * "placed vs confirmed" panel reads have moved together.
 */
import { eventually } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import { demoProducts, placePendingOrder, waitForStatus } from '../orders/orders-flow';

/** Every sandbox call takes this long (the time limit of a call is raised above it: slow, not failing). */
const PAYMENT_LATENCY_MS = 8_000;

jest.setTimeout(120_000);

/** The value of one sample on orders' /metrics, or undefined when the series is not there. */
async function ordersSample(shop: TestShop, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const text = await (await fetch(shop.supergraph.services.orders.url.replace('/graphql', '/metrics'))).text();
  let found: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) found = (found ?? 0) + Number(m[3]);
  }
  return found;
}

async function backlog(shop: TestShop): Promise<{ pending: number | undefined; oldestAgeSeconds: number | undefined }> {
  return {
    pending: await ordersSample(shop, 'orders_saga_backlog', { service: 'orders' }),
    oldestAgeSeconds: await ordersSample(shop, 'orders_saga_oldest_pending_age_seconds', { service: 'orders' }),
  };
}

describe('observability: the saga backlog on /metrics while payments are slow', () => {
  let shop: TestShop;

  beforeAll(async () => {
    shop = await startTestShop({ seed: true, settings: { orders: { PAYMENT_SANDBOX_LATENCY_MS: PAYMENT_LATENCY_MS, PAYMENT_TIMEOUT_MS: 4 * PAYMENT_LATENCY_MS } } });
  });
  afterAll(async () => {
    await shop?.stop();
  });

  it('should show the pending orders and the age of the oldest rising while they wait, and 0 once they are confirmed', async () => {
    const products = (await demoProducts(shop, 3)).filter((p) => p.available >= 1);
    const token = await shop.tokenFor({});
    expect(await backlog(shop)).toEqual({ pending: 0, oldestAgeSeconds: 0 });
    const placedBefore = (await ordersSample(shop, 'orders_placed_total')) ?? 0;
    const confirmedBefore = (await ordersSample(shop, 'orders_status_transitions_total', { status: 'CONFIRMED' })) ?? 0;

    // Three orders: each answers PENDING without waiting for its (slow) payment.
    const orders: Array<{ id: string }> = [];
    const answerMs: number[] = [];
    for (const product of products.slice(0, 3)) {
      const started = Date.now();
      orders.push(await placePendingOrder(shop, [{ productId: product.id, quantity: 1 }], token));
      answerMs.push(Date.now() - started);
    }
    expect(Math.max(...answerMs)).toBeLessThan(PAYMENT_LATENCY_MS);

    // While they wait: all three pending, the oldest one aging from scrape to scrape.
    const first = await eventually(async () => {
      const b = await backlog(shop);
      return b.pending === 3 && (b.oldestAgeSeconds ?? 0) > 0 ? b : null;
    }, PAYMENT_LATENCY_MS, 100);
    await new Promise((r) => setTimeout(r, 1_500)); // beyond the gauges' 1 s memo
    const later = await backlog(shop);
    expect(later.pending).toBe(3);
    expect(later.oldestAgeSeconds).toBeGreaterThan(first.oldestAgeSeconds! + 1);

    // The payments go through: nothing pending any more, no age; placed and confirmed moved by three each.
    for (const order of orders) await waitForStatus(shop, order.id, 'CONFIRMED', token, 60_000);
    expect(await eventually(async () => {
      const b = await backlog(shop);
      return b.pending === 0 ? b : null;
    }, 5_000, 100)).toEqual({ pending: 0, oldestAgeSeconds: 0 });
    expect((await ordersSample(shop, 'orders_placed_total'))! - placedBefore).toBe(3);
    expect((await ordersSample(shop, 'orders_status_transitions_total', { status: 'CONFIRMED' }))! - confirmedBefore).toBe(3);
  });
});
