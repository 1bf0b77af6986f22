/**
 * checkout vs placeOrder (issue 18): the same order (one line, quantity 1, Standard shipping to CA)
 * placed by `placeOrder` and by `checkout` from a prepared cart, through the gateway of a whole
 * shop, in rounds of N concurrent calls, interleaved (place, checkout, place, …). Prints one table:
 * wall time per round and per call, p50/p95 round trip, and checkout / placeOrder as a ratio.
 *
 *   npx tsx e2e/bench/cart/main.ts [--rounds 4] [--concurrency 50]
 *
 * Needs TEST_DATABASE_URL (a Postgres to create databases in, as the tests use). Not a test.
 */
import { randomUUID } from 'node:crypto';
import { startTestShop } from '../../support/harness';
import { address, catalogue, CHECKOUT, ok, SHIP } from '../../orders/cart-support';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg('rounds', 4);
const N = arg('concurrency', 50);

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

async function main(): Promise<void> {
  const shop = await startTestShop({ settings: { orders: { PAYMENT_SANDBOX_LATENCY_MS: 5 } } });
  try {
    const cat = await catalogue(shop);
    const product = await cat.product('20.00', 1_000_000);
    const method = ok(await shop.gql('mutation { createShippingMethod(input: { name: "Standard", price: "4.99", countries: ["CA"] }) { id } }', {}, cat.admin), 'createShippingMethod').id;
    const users = await Promise.all(Array.from({ length: N }, () => shop.tokenFor({})));
    const rows: Array<{ kind: string; round: number; wallMs: number; latencies: number[]; failed: number }> = [];
    const timed = async (kind: string, round: number, call: (u: string) => Promise<any>) => {
      const latencies: number[] = [];
      let failed = 0;
      const t0 = performance.now();
      await Promise.all(users.map(async (u) => {
        const s = performance.now();
        const res = await call(u);
        latencies.push(performance.now() - s);
        if (res.errors) failed += 1;
      }));
      rows.push({ kind, round, wallMs: performance.now() - t0, latencies, failed });
    };
    for (let round = 1; round <= ROUNDS; round++) {
      await timed('placeOrder', round, (u) => shop.gql('mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }', {
        input: { items: [{ productId: product, quantity: 1 }], shippingAddress: address('CA'), payment: { token: 'tok_visa' }, idempotencyKey: randomUUID() },
      }, u));
      // The carts are prepared before the timed calls (adding and shipping are not checkout).
      for (const u of users) {
        ok(await shop.gql('mutation($p: ID!) { addToCart(productId: $p, quantity: 1) { id } }', { p: product }, u), 'addToCart');
        ok(await shop.gql(SHIP, { address: address('CA'), methodId: method }, u), 'setCartShipping');
      }
      await timed('checkout', round, (u) => shop.gql(CHECKOUT, { input: { payment: { token: 'tok_visa' }, idempotencyKey: randomUUID() } }, u));
    }
    console.log(`| call | round | ${N} concurrent: wall ms | per call ms | p50 ms | p95 ms | failed |`);
    console.log('|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.kind} | ${r.round} | ${r.wallMs.toFixed(0)} | ${(r.wallMs / N).toFixed(1)} | ${quantile(r.latencies, 0.5).toFixed(0)} | ${quantile(r.latencies, 0.95).toFixed(0)} | ${r.failed} |`);
    const total = (kind: string) => rows.filter((r) => r.kind === kind && r.round > 1).reduce((a, r) => a + r.wallMs, 0);
    console.log(`\ncheckout / placeOrder wall time (rounds 2..${ROUNDS}, round 1 is warm-up): ${(total('checkout') / total('placeOrder')).toFixed(2)}×`);
  } finally {
    await shop.stop();
  }
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
