/**
 * The demo shoppers through the gateway (issue 21, "a catalogue that looks real"): after a start
 * with demo data, products have ratings and reviews by demo customers, a demo customer gets
 * recommendations of things they have not bought, bought together has data, the admin's sales
 * report shows the demo orders (figures computed by hand from the demo baskets and the catalogue's
 * prices), and a second run adds nothing.
 */
import { Pool } from 'pg';
import { createLogger } from '@shop/platform';
import { eventually } from '@shop/platform/testing';
import { DEMO_CUSTOMERS, DEMO_PASSWORD, runDemoShoppers } from '../../scripts/demo-shoppers';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';

jest.setTimeout(180_000);

const cents = (amount: string) => Math.round(Number(amount) * 100);
const REPORT = `query ($from: DateTime!, $to: DateTime!) {
  salesReport(from: $from, to: $to, interval: DAY) { points { orders revenue { amount } } topProducts { product { name } unitsSold } conversion }
}`;
const PRODUCT = `query($id: ID!) { product(id: $id) { name rating reviewCount reviews(first: 10) { totalCount edges { node { rating comment author { username } } } } frequentlyBoughtTogether(first: 5) { name } } }`;

describe('demo shoppers on a start with demo data', () => {
  let shop: TestShop;
  let admin: string;
  const prices = new Map<string, string>();
  const ids = new Map<string, string>();
  const from = new Date(Date.now() - 86_400_000).toISOString();
  const to = new Date(Date.now() + 86_400_000).toISOString();

  beforeAll(async () => {
    shop = await startTestShop({ seed: true, demoShoppers: true });
    admin = await shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] });
    const page = await shop.gql('{ products(first: 100) { edges { node { id name price { amount } } } } }');
    for (const e of page.data.products.edges) {
      prices.set(e.node.name, e.node.price.amount);
      ids.set(e.node.name, e.node.id);
    }
  });
  afterAll(async () => {
    await shop?.stop();
  });

  const report = async () => {
    const res = await shop.gql(REPORT, { from, to }, admin);
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    const r = res.data.salesReport;
    return { r, orders: r.points.reduce((n: number, p: any) => n + p.orders, 0), revenue: r.points.reduce((n: number, p: any) => n + cents(p.revenue.amount), 0) };
  };

  it('should show the demo orders in the admin sales report, as computed by hand from the baskets', async () => {
    const baskets = DEMO_CUSTOMERS.flatMap((c) => c.orders);
    // placeOrder: no shipping, tax or discount, so each total is Σ price × quantity.
    const revenue = baskets.reduce((sum, b) => sum + b.reduce((s, [name, q]) => s + cents(prices.get(name)!) * q, 0), 0);
    const r = await eventually(async () => {
      const now = await report();
      return now.orders === baskets.length ? now : null;
    }, 60_000, 200);
    expect(baskets.length).toBe(12);
    expect(r.revenue).toBe(revenue);
    // The Phone Case Leather is in two baskets, once each.
    expect(r.r.topProducts.length).toBeGreaterThan(0);
    // No carts: the demo orders are placed with placeOrder.
    expect(r.r.conversion).toBeNull();
  });

  it('should give products ratings and reviews by demo customers', async () => {
    const res = await shop.gql(PRODUCT, { id: ids.get('Phone Case Leather') });
    const p = res.data.product;
    // Ava gave 4, Ben 3.
    expect(p.reviewCount).toBe(2);
    expect(p.rating).toBeCloseTo(3.5, 5);
    expect(p.reviews.edges.map((e: any) => e.node.author.username).sort()).toEqual(['ava_demo', 'ben_demo']);
    const rated = await shop.gql('{ products(first: 100, filter: { minRating: 1 }) { totalCount } }');
    expect(rated.errors).toBeUndefined();
    expect(rated.data.products.totalCount).toBe(new Set(DEMO_CUSTOMERS.flatMap((c) => c.reviews.map(([name]) => name))).size);
  });

  it('should find products bought together and recommend what a demo customer has not bought', async () => {
    const together = await eventually(async () => {
      const res = await shop.gql(PRODUCT, { id: ids.get('Smartphone Pro 128 GB') });
      const names = (res.data?.product?.frequentlyBoughtTogether ?? []).map((x: any) => x.name);
      return names.length > 0 ? names : null;
    }, 60_000, 200);
    expect(together).toContain('Phone Case Leather');
    expect(together).not.toContain('Smartphone Pro 128 GB');

    const ava = DEMO_CUSTOMERS[0]!;
    const login = await shop.gql('mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }', { e: ava.email, p: DEMO_PASSWORD });
    const token = login.data.login.accessToken as string;
    const bought = new Set(ava.orders.flatMap((b) => b.map(([name]) => name)));
    // The catalog learns her orders from the confirmations (eventually): until then she is a new user with popular products.
    const recommended = await eventually(async () => {
      const res = await shop.gql('{ me { recommendedProducts(first: 10) { name } } }', {}, token);
      const names: string[] = (res.data?.me?.recommendedProducts ?? []).map((x: any) => x.name);
      return names.length > 0 && names.every((n) => !bought.has(n)) ? names : null;
    }, 60_000, 200);
    expect(recommended.length).toBeGreaterThan(0);
    for (const name of recommended) expect(bought.has(name)).toBe(false);
  });

  it('should complete an interrupted run without adding twice', async () => {
    // A first run that stopped before its last review: the last customer's last review is not there yet.
    const last = DEMO_CUSTOMERS[DEMO_CUSTOMERS.length - 1]!;
    const [name] = last.reviews[last.reviews.length - 1]!;
    const before = await report();
    const db = new Pool({ connectionString: shop.databaseUrl('catalog'), max: 1 });
    try {
      const { rowCount } = await db.query('DELETE FROM review WHERE product_id = $1', [ids.get(name)]);
      expect(rowCount).toBe(1);
    } finally {
      await db.end();
    }
    const again = await runDemoShoppers(shop.url, createLogger('demo-shoppers', 'silent'));
    const reviews = DEMO_CUSTOMERS.reduce((n, c) => n + c.reviews.length, 0);
    // Everyone signed in instead of registering, the orders replayed by key, only that review added.
    expect(again).toMatchObject({ skipped: false, reviews: 1, alreadyThere: DEMO_CUSTOMERS.length + reviews - 1 });
    const after = await report();
    expect([after.orders, after.revenue]).toEqual([before.orders, before.revenue]);
  });

  it('should add nothing on a second run (a restart)', async () => {
    const before = await report();
    const again = await runDemoShoppers(shop.url, createLogger('demo-shoppers', 'silent'));
    expect(again).toMatchObject({ skipped: true, orders: 0, reviews: 0 });
    const after = await report();
    expect([after.orders, after.revenue]).toEqual([before.orders, before.revenue]);
    expect((await shop.gql(PRODUCT, { id: ids.get('Phone Case Leather') })).data.product.reviewCount).toBe(2);
  });
});
