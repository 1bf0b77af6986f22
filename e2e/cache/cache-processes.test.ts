/**
 * The entity cache of two standalone gateway processes (gateway/src/main.ts, configured only by
 * their environment, as two Kubernetes pods) sharing one real Redis, in front of a real shop on
 * Kafka: both serve what they cached while a price is changed behind their back (straight in the
 * catalog database, no event), and both serve the new price and stock once the change's event is
 * delivered. A third gateway of another deployment (another REDIS_KEY_PREFIX) on the same Redis
 * never serves their entries, and every key the two write carries their prefix.
 *
 * Changes are made at the subgraph directly (signed as a gateway would), so that only the events
 * can tell the gateways (a mutation through a gateway outdates its service's answers at once).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { eventually, testKafkaBrokers, testRedisUrl } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import type { GatewayProcess } from '../support/gateway-process';
import { gatewayEnvFor, startGatewayProcess } from '../support/gateway-process';
import type { ProductPage } from './cache-support';
import { adjustStock, invalidationsHandled, readProduct, setPrice } from './cache-support';

/** The same with a user-bound field beside: not cached whole, so its catalog and stock parts come from the per-fetch cache. */
const PRODUCT_AND_ME = 'query ($id: ID!) { me { id } product(id: $id) { id name price { amount } inventory { available } } }';

describe('the entity cache of two gateway processes sharing Redis', () => {
  let shop: TestShop;
  let productId: string;
  let otherProductId: string;
  const prefix = `shop-${randomBytes(4).toString('hex')}:`;
  let gateways: GatewayProcess[] = [];
  let otherDeployment: GatewayProcess;

  beforeAll(async () => {
    shop = await startTestShop({ bus: 'kafka', seed: true });
    const list = await shop.gql<{ products: { edges: Array<{ node: { id: string } }> } }>('{ products(first: 2) { edges { node { id } } } }');
    [productId, otherProductId] = list.data!.products.edges.map((e) => e.node.id) as [string, string];
    // Loopback not exempt, so that the rate budgets write their keys too (a budget this test never reaches).
    const env = (keyPrefix: string) =>
      gatewayEnvFor(shop, testKafkaBrokers(), { GATEWAY_WORKERS: '1', REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: keyPrefix, RATE_LIMIT_EXEMPT_ADDRESSES: '', RATE_LIMIT_ANONYMOUS_REQUESTS: '1000000' });
    const started = await Promise.allSettled([startGatewayProcess(env(prefix)), startGatewayProcess(env(prefix)), startGatewayProcess(env(`other-${prefix}`))]);
    const ok = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.all(ok.map((g) => g.stop()));
      throw failed.reason;
    }
    gateways = ok.slice(0, 2);
    otherDeployment = ok[2]!;
    // Each process's invalidation feed is live (its consumer group assigned) once it handled an event:
    // another product's price (it outdates catalog's lists and that product, not what the test reads).
    let attempt = 0;
    await eventually(
      async () => {
        await setPrice(shop, otherProductId, `${20 + ++attempt}.00`);
        return (await Promise.all(ok.map((g) => invalidationsHandled(g.url)))).every((n) => n > 0);
      },
      60_000,
      500,
    );
  }, 240_000);
  afterAll(async () => {
    await Promise.all([...gateways, ...(otherDeployment ? [otherDeployment] : [])].map((g) => g.stop()));
    await shop?.stop();
  });

  it('should serve cached answers while the data changes behind their back, and the new ones on both once the event arrives', async () => {
    const urls = gateways.map((g) => g.url);
    expect(new Set(urls).size).toBe(2);
    const start = await readProduct(urls[0]!, productId);
    for (const url of urls) expect(await readProduct(url, productId)).toEqual(start);
    for (const url of urls) expect(await readProduct(url, productId, PRODUCT_AND_ME)).toEqual(start);

    // Changed behind everyone's back (no event): both keep answering what they cached.
    const behindTheirBack = start.price.amount === '1.25' ? '1.35' : '1.25';
    const pool = new Pool({ connectionString: shop.databaseUrl('catalog'), max: 1 });
    try {
      await pool.query('UPDATE product SET price = $2 WHERE id = $1', [productId, behindTheirBack]);
    } finally {
      await pool.end();
    }
    for (const url of urls) expect((await readProduct(url, productId)).price.amount).toBe(start.price.amount);
    for (const url of urls) expect((await readProduct(url, productId, PRODUCT_AND_ME)).price.amount).toBe(start.price.amount);
    // Another deployment on the same Redis never sees their entries: it asks catalog.
    expect((await readProduct(otherDeployment.url, productId)).price.amount).toBe(behindTheirBack);

    // Changed with its event: both processes serve the new price, then the new stock. Within 10 s
    // each (the event latency is well under a second even at load 17, docs/notes/gateway-cache.md),
    // so well before the hints' ages (stock 30 s, product 60 s) would expire what they cached.
    const everywhere = (check: (p: ProductPage) => boolean) => async () => (await Promise.all(urls.flatMap((url) => [readProduct(url, productId), readProduct(url, productId, PRODUCT_AND_ME)]))).every(check);
    await setPrice(shop, productId, '77.70');
    await eventually(everywhere((p) => p.price.amount === '77.70'), 10_000, 50);
    const available = await adjustStock(shop, productId, 2);
    await eventually(everywhere((p) => p.inventory.available === available), 10_000, 50);
  });

  it('should keep every key of the deployment under its REDIS_KEY_PREFIX', async () => {
    const redis = new Redis(testRedisUrl());
    try {
      const keys = await redis.keys(`${prefix}*`);
      expect(keys.some((k) => k.startsWith(`${prefix}gateway:cache:e:`))).toBe(true);
      expect(keys.some((k) => k.startsWith(`${prefix}gateway:cache:m:`))).toBe(true);
      expect(keys.some((k) => k.startsWith(`${prefix}gateway:rl:`))).toBe(true);
    } finally {
      await redis.quit();
    }
  });
});
