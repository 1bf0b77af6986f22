/**
 * The sales report through the gateway (issue 21): figures computed by hand from the orders this
 * test places match the report's, after confirmations, a cancellation and its refund; conversion
 * from the carts this test creates and checks out; customers and anonymous callers are refused;
 * bad arguments name their field.
 */
import { randomUUID } from 'node:crypto';
import { eventually } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import { ADD, address, CHECKOUT, CREATE_CART, ok, SHIP } from './cart-support';
import { demoProducts, ORDER, placePendingOrder, waitForStatus } from './orders-flow';

const REPORT = `query ($from: DateTime!, $to: DateTime!, $interval: ReportInterval) {
  salesReport(from: $from, to: $to, interval: $interval) {
    currencyCode
    points { start orders revenue { amount currencyCode } averageOrderValue { amount } }
    topProducts { product { id name } unitsSold revenue { amount } }
    conversion
  }
}`;

const cents = (amount: string) => Math.round(Number(amount) * 100);

describe('salesReport through the gateway', () => {
  let shop: TestShop;
  let admin: string;
  let customer: string;
  // Two days around now: whatever hour or day the orders fall in, they are inside.
  const from = new Date(Date.now() - 86_400_000).toISOString();
  const to = new Date(Date.now() + 86_400_000).toISOString();

  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process', seed: true });
    admin = await shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] });
    customer = await shop.tokenFor({ roles: ['CUSTOMER'] });
  });
  afterAll(async () => {
    await shop?.stop();
  });

  const report = async (interval = 'HOUR') => {
    const res = await shop.gql(REPORT, { from, to, interval }, admin);
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    const r = res.data.salesReport;
    const orders = r.points.reduce((n: number, p: any) => n + p.orders, 0);
    const revenue = r.points.reduce((n: number, p: any) => n + cents(p.revenue.amount), 0);
    const units = new Map<string, number>(r.topProducts.map((t: any) => [t.product.id, t.unitsSold]));
    return { r, orders, revenue, units };
  };

  it('should match hand-computed figures after confirmations, a cancellation and a refund', async () => {
    const products = (await demoProducts(shop, 10)).filter((p) => p.available >= 5);
    const [p1, p2] = [products[0]!, products[1]!];
    const before = await report();

    const a = await placePendingOrder(shop, [{ productId: p1.id, quantity: 2 }], customer);
    const b = await placePendingOrder(shop, [{ productId: p1.id, quantity: 1 }, { productId: p2.id, quantity: 3 }], customer);
    const c = await placePendingOrder(shop, [{ productId: p2.id, quantity: 1 }], customer);
    for (const o of [a, b, c]) await waitForStatus(shop, o.id, 'CONFIRMED', customer);
    // By hand: three orders, their totals; p1 sold 3, p2 sold 4.
    const totals = [a, b, c].map((o) => cents(o.total.amount));
    expect(totals[0]).toBe(2 * cents(p1.price));
    const confirmed = await eventually(async () => {
      const now = await report();
      return now.orders - before.orders === 3 ? now : null;
    }, 20_000, 100);
    expect(confirmed.revenue - before.revenue).toBe(totals[0]! + totals[1]! + totals[2]!);

    // b is cancelled by its owner: refunded, and out of the report (orders, revenue, units).
    const cancelled = await shop.gql(`mutation($id: ID!) { cancelOrder(id: $id) { status } }`, { id: b.id }, customer);
    expect(cancelled.errors).toBeUndefined();
    await eventually(async () => (await shop.gql(ORDER, { id: b.id }, customer)).data.order.payment.status === 'REFUNDED', 20_000, 100);
    const after = await eventually(async () => {
      const now = await report();
      return now.orders - before.orders === 2 ? now : null;
    }, 20_000, 100);
    expect(after.revenue - before.revenue).toBe(totals[0]! + totals[2]!);
    expect((after.units.get(p1.id) ?? 0) - (before.units.get(p1.id) ?? 0)).toBe(2);
    expect((after.units.get(p2.id) ?? 0) - (before.units.get(p2.id) ?? 0)).toBe(1);
    // The refund (after the cancellation) takes nothing more off.
    expect(after.r.currencyCode).toBe('USD');
    expect(after.r.conversion).toBeNull();
    for (const p of after.r.points) {
      expect(p.revenue.currencyCode).toBe('USD');
      expect(cents(p.averageOrderValue.amount)).toBe(p.orders === 0 ? 0 : Math.round(cents(p.revenue.amount) / p.orders));
    }
    // Hourly, daily and weekly points carry the same sums.
    const daily = await report('DAY');
    const weekly = await report('WEEK');
    expect([daily.orders, daily.revenue]).toEqual([after.orders, after.revenue]);
    expect([weekly.orders, weekly.revenue]).toEqual([after.orders, after.revenue]);
    // 48 hours from an instant within an hour: 49 hourly points (the first starts at that hour).
    expect(after.r.points).toHaveLength(new Date(from).getUTCMinutes() === 0 && new Date(from).getUTCSeconds() === 0 ? 48 : 49);
    expect(daily.r.points.length).toBeGreaterThanOrEqual(2);
    expect(daily.r.points.length).toBeLessThanOrEqual(3);
    // A long period (whole months, then days, then hours) counts each sale once: the same top products.
    const long = await shop.gql(REPORT, { from: '2026-01-01T00:00:00Z', to, interval: 'WEEK' }, admin);
    expect(long.errors).toBeUndefined();
    expect(long.data.salesReport.topProducts).toEqual(daily.r.topProducts);
    // The product resolves through the catalog.
    expect(after.r.topProducts.find((t: any) => t.product.id === p1.id)?.product.name).toBe(p1.name);
  });

  it('should compute conversion as carts checked out / carts created in the period', async () => {
    const [p] = (await demoProducts(shop, 10)).filter((x) => x.available >= 5);
    // placeOrder creates no cart: the orders above left conversion null.
    expect((await report()).r.conversion).toBeNull();
    /** Adds a line and ships to the US with the first method offered. */
    const fill = async (cartId: string | undefined, token?: string) => {
      ok(await shop.gql(ADD, { cartId, productId: p!.id, quantity: 1 }, token), 'addToCart');
      const c = ok(await shop.gql(SHIP, { cartId, address: address('US') }, token), 'setCartShipping');
      ok(await shop.gql(SHIP, { cartId, address: address('US'), methodId: c.availableShippingMethods[0].id }, token), 'setCartShipping');
    };
    // Four carts: a guest's checked out, the customer's implicit cart checked out, two abandoned.
    const bought = ok(await shop.gql(CREATE_CART), 'createCart');
    await fill(bought.id);
    const guestOrder = ok(await shop.gql(CHECKOUT, { input: { cartId: bought.id, email: 'conversion@example.com', payment: { token: 'tok_visa' }, idempotencyKey: randomUUID() } }), 'checkout');
    await fill(undefined, customer);
    const userOrder = ok(await shop.gql(CHECKOUT, { input: { payment: { token: 'tok_visa' }, idempotencyKey: randomUUID() } }, customer), 'checkout');
    const abandoned = ok(await shop.gql(CREATE_CART), 'createCart');
    ok(await shop.gql(ADD, { cartId: abandoned.id, productId: p!.id, quantity: 1 }), 'addToCart');
    ok(await shop.gql(CREATE_CART), 'createCart');
    expect(guestOrder.id).not.toBe(userOrder.id);
    // By hand: 2 checked out / 4 created.
    const r = await eventually(async () => {
      const now = await report();
      return now.r.conversion === 0.5 ? now.r : null;
    }, 20_000, 100);
    expect(r.conversion).toBe(0.5);
    // A period before the carts has none: null, not 0.
    const earlier = await shop.gql(REPORT, { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', interval: 'DAY' }, admin);
    expect(earlier.data.salesReport.conversion).toBeNull();
  });

  it('should refuse customers and anonymous callers, and name bad arguments', async () => {
    expect((await shop.gql(REPORT, { from, to }, customer)).errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect((await shop.gql(REPORT, { from, to })).errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    const backwards = await shop.gql(REPORT, { from: to, to: from }, admin);
    expect(backwards.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'to' });
    const garbled = await shop.gql(REPORT, { from: 'yesterday', to }, admin);
    expect(garbled.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'from' });
    const tooLong = await shop.gql(REPORT, { from: '2020-01-01T00:00:00Z', to, interval: 'HOUR' }, admin);
    expect(tooLong.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'to' });
  });
});
