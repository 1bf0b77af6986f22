/**
 * `node --import tsx e2e/bench/cache/staleness.main.ts [--changes 20] [--bus kafka|in-process]`
 *
 * How stale can a cached answer be after a change? A whole shop (real Postgres, the chosen bus, a
 * real Redis shared by two gateways), a product's price and stock cached on both gateways; then,
 * `changes` times, the price (catalog) or the stock (inventory) is changed at the subgraph and
 * both gateways are polled (every 5 ms) until each serves the new value. Prints the time from the
 * change's commit (the subgraph's answer) to the last gateway serving it: min, p50, p95, max.
 * Needs the test infrastructure's environment (TEST_DATABASE_URL, TEST_KAFKA_BROKERS,
 * TEST_REDIS_URL: `node --import tsx packages/platform/src/testing/infra.main.ts`).
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { testRedisUrl } from '@shop/platform/testing';
import { asAdmin, startAnotherGateway } from '../../cache/cache-support';
import { postGraphQL, startTestShop } from '../../support/harness';

const PRODUCT = 'query ($id: ID!) { product(id: $id) { price { amount } inventory { available } } }';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { changes: { type: 'string', default: '20' }, bus: { type: 'string', default: 'kafka' } } });
  const changes = Number(values.changes);
  const bus = values.bus === 'in-process' ? 'in-process' : 'kafka';
  const loadStart = os.loadavg();
  const shop = await startTestShop({ bus, seed: true, gateway: { redisUrl: testRedisUrl() } });
  const second = await startAnotherGateway(shop);
  try {
    const urls = [shop.url, second.url];
    const list = await shop.gql<{ products: { edges: Array<{ node: { id: string } }> } }>('{ products(first: 1) { edges { node { id } } } }');
    const id = list.data!.products.edges[0]!.node.id;
    const read = async (url: string) => (await postGraphQL<{ product: { price: { amount: string }; inventory: { available: number } } }>(url, PRODUCT, { id })).data!.product;
    const admin = (audience: 'catalog' | 'inventory', query: string, variables: Record<string, unknown>) => asAdmin(shop, audience, query, variables);
    const delays: number[] = [];
    for (let i = 0; i < changes; i++) {
      for (const url of urls) await read(url); // cached on both
      await new Promise((r) => setTimeout(r, 200));
      let matches: (p: Awaited<ReturnType<typeof read>>) => boolean;
      let committed: number;
      if (i % 2 === 0) {
        const price = `${200 + i}.25`;
        await admin('catalog', 'mutation ($id: ID!, $price: Decimal!) { updateProduct(id: $id, input: { price: $price }) { id } }', { id, price });
        committed = performance.now();
        matches = (p) => p.price.amount === price;
      } else {
        const res = await admin('inventory', 'mutation ($id: ID!) { adjustInventory(productId: $id, delta: 1, reason: "staleness") { available } }', { id });
        committed = performance.now();
        const available = res.data.adjustInventory.available as number;
        matches = (p) => p.inventory.available === available;
      }
      const pending = new Set(urls);
      while (pending.size) {
        for (const url of [...pending]) if (matches(await read(url))) pending.delete(url);
        if (pending.size) await new Promise((r) => setTimeout(r, 5));
        if (performance.now() - committed > 30_000) throw new Error('a gateway still serves the old value after 30 s');
      }
      delays.push(performance.now() - committed);
    }
    delays.sort((a, b) => a - b);
    const q = (p: number) => delays[Math.min(delays.length - 1, Math.floor(p * delays.length))]!.toFixed(1);
    process.stdout.write(`cache staleness after a change, two gateways sharing Redis, ${bus} bus, ${changes} changes (price and stock alternately)\n`);
    process.stdout.write(`ms from the subgraph's answer to both gateways serving the new value: min ${delays[0]!.toFixed(1)}, p50 ${q(0.5)}, p95 ${q(0.95)}, max ${delays[delays.length - 1]!.toFixed(1)}\n`);
    process.stdout.write(`load average (1/5/15 min): start ${loadStart.map((l) => l.toFixed(2)).join(' ')}, end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  } finally {
    await second.stop();
    await shop.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
