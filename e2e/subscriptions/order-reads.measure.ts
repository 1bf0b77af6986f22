/**
 * How many reads of the orders database one order event costs, by the number of subscriptions
 * following it. Not a test (not run by jest): run it by hand against the test database:
 *
 *   TEST_DATABASE_URL=postgres://… node --import tsx e2e/subscriptions/order-reads.measure.ts
 *
 * A whole shop (in-process bus); one confirmed order; for each level, K admins (K identities, so K
 * upstream subscriptions on orders, K delivery groups at the gateway) follow it with
 * `orderUpdated { id status total items payment }`; one change (ship, then deliver) and the table
 * scans of `orders`, `order_item` and `payment` it caused (pg_stat_user_tables, idx_scan +
 * seq_scan, after the statistics are flushed), minus those of the mutation alone (K = 0).
 */
import { Client } from 'pg';
import { eventually } from '@shop/platform/testing';
import { demoProducts, orderInput, PLACE_ORDER, waitForStatus } from '../orders/orders-flow';
import { startTestShop } from '../support/harness';
import { metricsOf, sample, watch } from './support';

const FOLLOW = 'subscription($id: ID!) { orderUpdated(orderId: $id) { id status total { amount } items { quantity } payment { status } } }';
const CHANGES = ['mutation($id: ID!) { shipOrder(id: $id, carrier: "DHL", trackingNumber: "JD0146000033") { status } }', 'mutation($id: ID!) { markDelivered(id: $id) { status } }'];
const LEVELS = (process.env['LEVELS'] ?? '0,1,10,30').split(',').map(Number);

async function main(): Promise<void> {
  const shop = await startTestShop({ seed: true });
  const db = new Client({ connectionString: shop.databaseUrl('orders') });
  await db.connect();
  const scans = async (): Promise<number> => {
    await new Promise((r) => setTimeout(r, 1_500)); // statistics reach the views within a second
    await db.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await db.query<{ n: string }>("SELECT sum(coalesce(idx_scan, 0) + coalesce(seq_scan, 0))::text AS n FROM pg_stat_user_tables WHERE relname IN ('orders', 'order_item', 'payment')");
    return Number(rows[0]!.n);
  };
  try {
    const admin = await shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] });
    const product = (await demoProducts(shop))[0]!;
    const rows: string[] = [];
    let baseline = 0;
    for (const k of LEVELS) {
      const owner = await shop.tokenFor({});
      const order = (await shop.gql(PLACE_ORDER, { input: orderInput([{ productId: product.id, quantity: 1 }]) }, owner)).data.placeOrder;
      await waitForStatus(shop, order.id, 'CONFIRMED', owner);
      const subs = await Promise.all(Array.from({ length: k }, async () => watch(shop, FOLLOW, { id: order.id }, await shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] }))));
      await eventually(async () => sample(await metricsOf(shop, 'orders'), 'subgraph_subscriptions_active', { service: 'orders', field: 'orderUpdated' }) === k, 30_000);
      let total = 0;
      for (const [i, change] of CHANGES.entries()) {
        const before = await scans();
        await shop.gql(change, { id: order.id }, admin);
        await eventually(() => subs.every((s) => s.events.length === i + 1), 30_000);
        total += (await scans()) - before;
      }
      const perEvent = total / CHANGES.length;
      if (k === 0) baseline = perEvent;
      rows.push(`| ${k} | ${perEvent.toFixed(1)} | ${(perEvent - baseline).toFixed(1)} |`);
      await Promise.all(subs.map((s) => s.close()));
    }
    console.log('| subscriptions following the order | table scans per change | of which delivery |\n|---|---|---|');
    console.log(rows.join('\n'));
  } finally {
    await db.end();
    await shop.stop();
  }
}

void main();
