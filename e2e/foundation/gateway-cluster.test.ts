/**
 * The standalone gateway (gateway/src/main.ts, configured only through its environment) with two
 * workers sharing its port, in front of a real shop's subgraphs. Every request below opens a
 * connection of its own, so that the primary hands them to the workers in turn: the anonymous
 * budget is one for the whole gateway (the primary's counters, no Redis), /metrics is the sum over
 * the workers, a stock subscription works on each worker, and a session revoked by users' event on
 * Kafka is refused by every worker, and each worker's own entity cache (no Redis) keeps what it
 * cached until a change's event, then serves the new value. Then SIGTERM stops the primary and
 * every worker.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { SessionRevoked } from '@shop/events';
import { Pool } from 'pg';
import { createEnvelope } from '@shop/platform';
import { eventually, testKafkaBrokers } from '@shop/platform/testing';
import { asAdmin } from '../cache/cache-support';
import type { DemoProduct } from '../orders/orders-flow';
import { demoProducts } from '../orders/orders-flow';
import { ADJUST, metricsOf, sample, watch } from '../subscriptions/support';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import type { GatewayProcess } from '../support/gateway-process';
import { gatewayEnvFor, startGatewayProcess } from '../support/gateway-process';

const PRICE = 'query ($id: ID!) { product(id: $id) { price { amount } } }';
const STOCK_CHANGED = 'subscription($ids: [ID!]!) { stockChanged(productIds: $ids) { productId available } }';

/** One request on a connection of its own (no keep-alive pool), so that consecutive requests reach different workers. */
function freshRequest(url: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const body = init.body === undefined ? undefined : JSON.stringify(init.body);
    const req = http.request(url, { method: init.method ?? (body ? 'POST' : 'GET'), agent: false, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...init.headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the gateway with two workers sharing its port', () => {
  let shop: TestShop;
  let cluster: GatewayProcess;
  let products: DemoProduct[];

  beforeAll(async () => {
    // On Kafka (the shop's namespace, KAFKA_NAMESPACE of the gateway): the workers follow its events.
    shop = await startTestShop({ bus: 'kafka', seed: true });
    products = await demoProducts(shop);
    cluster = await startGatewayProcess(
      gatewayEnvFor(shop, testKafkaBrokers(), {
        GATEWAY_WORKERS: '2',
        // Budgets per client address from X-Forwarded-For, loopback not exempt, no Redis: the primary counts.
        TRUST_PROXY_HOPS: '1',
        RATE_LIMIT_EXEMPT_ADDRESSES: '',
        RATE_LIMIT_ANONYMOUS_REQUESTS: '6',
      }),
    );
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
    await shop?.stop();
  });

  it('should run two workers', () => {
    expect(cluster.pids).toHaveLength(2);
    expect(new Set(cluster.pids).size).toBe(2);
  });

  it('should enforce one anonymous budget across the workers, and count the refusals of both in one /metrics', async () => {
    const from = `198.18.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;
    const answers: Array<{ status: number; remaining: string | undefined }> = [];
    for (let i = 0; i < 10; i++) {
      const res = await freshRequest(cluster.url, { body: { query: '{ __typename }' }, headers: { 'x-forwarded-for': from } });
      answers.push({ status: res.status, remaining: res.headers['ratelimit-remaining'] as string | undefined });
    }
    // Per-worker counters would allow 6 on each worker (12 in all).
    expect(answers).toEqual([
      ...[5, 4, 3, 2, 1, 0].map((n) => ({ status: 200, remaining: String(n) })),
      ...Array.from({ length: 4 }, () => ({ status: 429, remaining: '0' })),
    ]);
    // Whichever worker answers the scrape, it reports the four refusals of both.
    for (let i = 0; i < 2; i++) {
      const metrics = await freshRequest(cluster.url.replace(/\/graphql$/, '/metrics'));
      expect(metrics.status).toBe(200);
      expect(sample(metrics.text, 'gateway_rate_limited_total', { budget: 'requests', caller: 'anonymous', transport: 'http' })).toBe(4);
    }
  });

  it('should deliver a stock subscription on each worker', async () => {
    const p = products[0]!;
    const token = await shop.tokenFor({});
    const admin = await shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] });
    const viaCluster = { ...shop, url: cluster.url };
    // Two WebSocket connections: one per worker.
    const subs = [watch(viaCluster, STOCK_CHANGED, { ids: [p.id] }, token), watch(viaCluster, STOCK_CHANGED, { ids: [p.id] }, token)];
    try {
      await eventually(async () => sample(await metricsOf(shop, 'inventory'), 'subgraph_subscriptions_active', { service: 'inventory', field: 'stockChanged' }) === 2, 20_000);
      const adjusted = await freshRequest(cluster.url, { body: { query: ADJUST, variables: { id: p.id, delta: 3 } }, headers: { authorization: `Bearer ${admin}` } });
      expect(JSON.parse(adjusted.text)).toEqual({ data: { adjustInventory: { available: p.available + 3 } } });
      await eventually(() => subs.every((s) => s.events.length === 1), 20_000);
      for (const s of subs) expect(s.events).toEqual([{ data: { stockChanged: { productId: p.id, available: p.available + 3 } }, extensions: { cursor: expect.any(String) } }]);
    } finally {
      await Promise.all(subs.map((s) => s.close()));
    }
  });

  it("should refuse a session on every worker once users' revocation event is on Kafka", async () => {
    const sessionId = randomUUID();
    const userId = randomUUID();
    const token = await shop.tokenFor({ userId, sessionId });
    // A refused token is charged to its address's anonymous budget (6 here): every round comes from an address of its own.
    let round = 0;
    const ask = async () => {
      round++;
      const from = `10.77.${Math.floor(round / 250)}.${(round % 250) + 1}`;
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push(await freshRequest(cluster.url, { body: { query: '{ __typename }' }, headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': from } }));
      return answers.map((a) => (JSON.parse(a.text) as { errors?: Array<{ extensions?: { code?: string } }> }).errors?.[0]?.extensions?.code ?? 'OK');
    };
    expect(await ask()).toEqual(Array.from({ length: 6 }, () => 'OK'));
    const data = { userId, sessionIds: [sessionId], reason: 'logout' as const, revokedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 15 * 60_000).toISOString() };
    await shop.bus.publish([{ topic: SessionRevoked.topic, key: userId, value: JSON.stringify(createEnvelope('users', SessionRevoked, userId, data)) }]);
    // Six requests on six connections: both workers, each following the topic on its own.
    await eventually(async () => (await ask()).every((code) => code === 'UNAUTHENTICATED'), 30_000, 200);
  });

  it('should serve cached answers from each worker, and the new price on both once its event arrives (no Redis: a store per worker)', async () => {
    const p = products[1]!;
    let request = 0;
    // Four reads on four connections (both workers, in turn), each from an address of its own (the anonymous budget is 6).
    const prices = async (): Promise<string[]> => {
      const answers = [];
      for (let i = 0; i < 4; i++) {
        request++;
        const res = await freshRequest(cluster.url, { body: { query: PRICE, variables: { id: p.id } }, headers: { 'x-forwarded-for': `10.88.${Math.floor(request / 250)}.${(request % 250) + 1}` } });
        answers.push((JSON.parse(res.text) as { data?: { product?: { price: { amount: string } } } }).data?.product?.price.amount ?? res.text);
      }
      return answers;
    };
    const start = await prices();
    expect(start).toEqual(Array.from({ length: 4 }, () => start[0]));
    // Changed behind the gateway's back (no event): each worker keeps what it cached.
    const pool = new Pool({ connectionString: shop.databaseUrl('catalog'), max: 1 });
    try {
      await pool.query('UPDATE product SET price = $2 WHERE id = $1', [p.id, start[0] === '1.25' ? '1.35' : '1.25']);
    } finally {
      await pool.end();
    }
    expect(await prices()).toEqual(start);
    // Changed with its event (at the subgraph, as an admin): every worker follows it itself.
    const changed = await asAdmin(shop, 'catalog', 'mutation ($id: ID!, $price: Decimal!) { updateProduct(id: $id, input: { price: $price }) { price { amount } } }', { id: p.id, price: '66.60' });
    expect(changed.errors).toBeUndefined();
    await eventually(async () => (await prices()).every((price) => price === '66.60'), 30_000, 200);
  });

  it('should stop every worker on SIGTERM to the primary', async () => {
    const code = await cluster.stop();
    expect(code).toBe(0);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await eventually(() => cluster.pids.every((pid) => !alive(pid)), 10_000);
  });
});
