/**
 * The observability stack end to end: the shop (in-process bus) scraped by a real Prometheus that
 * loads the committed rules, with a real Alertmanager routing to a webhook in this test.
 *
 * The cases run in order and share the stack: the traffic of the first ones (including failures)
 * is what the last one expects every dashboard panel to show.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { OrderPlaced } from '@shop/events';
import { eventually } from '@shop/platform/testing';
import type { AlertWebhook } from '@shop/observability';
import { buildDashboard, DASHBOARDS, panelQueries, RULE_FILES, RULE_TESTS_FILE, startAlertWebhook } from '@shop/observability';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import path from 'node:path';
import { runLoad } from '../load/load';
import type { PrometheusStack } from './prometheus-stack';
import { promtool, startExpositionFixture, startPrometheusStack } from './prometheus-stack';

jest.setTimeout(90_000);

/** What Grafana would substitute in the panel queries: every service, a 5-minute rate window. */
function grafanaVariables(expr: string): string {
  return expr.replaceAll('$__rate_interval', '5m').replaceAll('$service', '.*');
}

describe('observability: Prometheus and Alertmanager against the running shop', () => {
  let shop: TestShop;
  let stack: PrometheusStack;
  let webhook: AlertWebhook;
  /** Kafka's and CloudNativePG's exporters cannot run here: a recorded-format exposition each (fixtures/). */
  let exporters: Array<{ host: string; close(): Promise<void> }> = [];
  /** A client subscription kept open to the end, so the subscription panels have something to show. */
  let subscriptions: Client | undefined;
  /** Steps of the driven traffic that did not answer as expected (shown when panels lack data). */
  const trafficProblems: string[] = [];

  beforeAll(async () => {
    webhook = await startAlertWebhook({ port: 0 });
    shop = await startTestShop({ seed: true });
    const hostPort = (url: string): string => new URL(url).host;
    exporters = await Promise.all(['kafka-exporter.prom', 'cnpg.prom'].map((f) => startExpositionFixture(path.join(__dirname, 'fixtures', f))));
    stack = await startPrometheusStack({
      targets: {
        'kafka-exporter': exporters[0]!.host,
        postgres: exporters[1]!.host,
        gateway: hostPort(shop.url),
        ...Object.fromEntries(Object.entries(shop.supergraph.services).map(([name, s]) => [name, hostPort(s.url)])),
      },
      webhookBase: webhook.url,
    });
  });

  afterAll(async () => {
    await subscriptions?.dispose();
    await stack?.stop();
    await shop?.stop();
    await webhook?.close();
    await Promise.all(exporters.map((e) => e.close()));
  });

  it('should pass promtool check config, check rules and the rule unit tests', async () => {
    expect(await promtool('check', 'config', stack.configFile)).toContain('SUCCESS');
    expect(await promtool('check', 'rules', ...RULE_FILES)).not.toContain('FAILED');
    expect(await promtool('test', 'rules', RULE_TESTS_FILE)).toContain('SUCCESS');
  });

  it('should scrape every service, each port serving its own series once', async () => {
    const up = await eventually(async () => {
      const r = await stack.query('up{job=~"gateway|users|catalog|inventory|orders"}');
      return r.length === 5 && r.every((s) => s.value[1] === '1') ? r : null;
    }, 20_000);
    expect(up.map((s) => s.metric['job']).sort()).toEqual(['catalog', 'gateway', 'inventory', 'orders', 'users']);
    // One process hosts all five services here: a series must still come from one job only.
    const pairs = await stack.query('count by (service, job) (graphql_operations_total)');
    expect(pairs.filter((s) => s.metric['service'] !== s.metric['job'])).toEqual([]);
  });

  it('should record the traffic of a shopping session, failures included', async () => {
    const step = async (name: string, run: () => Promise<{ errors?: unknown[] | undefined; data?: unknown }>, expectErrors = false): Promise<any> => {
      const res = await run().catch((error: unknown) => ({ errors: [String(error)], data: undefined }));
      if (Boolean(res.errors?.length) !== expectErrors) trafficProblems.push(`${name}: ${JSON.stringify(res).slice(0, 300)}`);
      return res.data;
    };
    // Browsing and searching (products come from the seed; stock arrives through events).
    const listed = await eventually(async () => {
      const r = await shop.gql('query Catalog { products(first: 50) { edges { node { id name inventory { available } } } } }');
      const inStock = (r.data?.products.edges ?? []).map((e: any) => e.node).filter((n: any) => n.inventory.available >= 2);
      return inStock.length >= 4 ? inStock : null;
    }, 30_000);
    for (let i = 0; i < 10; i++) await step('browse', () => shop.gql('query Home { products(first: 5) { edges { node { id name price { amount } } } } }'));
    await step('search', () => shop.gql('query Search($q: String!) { products(filter: { search: $q }, first: 5) { totalCount } }', { q: 'shirt' }));
    await step('invalid input', () => shop.gql('query Page { products(first: -5) { totalCount } }'), true);

    // Customers: a registration, a successful and a failed sign-in.
    const email = `obs-${randomUUID().slice(0, 8)}@example.com`;
    const password = 'correct horse battery staple';
    await step('register', () => shop.gql('mutation Register($input: RegisterInput!) { register(input: $input) { accessToken } }', { input: { email, username: `obs${randomUUID().slice(0, 8)}`, password } }));
    const signedIn = await step('login', () => shop.gql('mutation Login($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }', { e: email, p: password }));
    await step('failed login', () => shop.gql('mutation Login($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }', { e: email, p: 'wrong password!' }), true);
    const token: string = signedIn?.login?.accessToken ?? (await shop.tokenFor({ roles: ['CUSTOMER'] }));

    // Checkout: one approved payment, one declined.
    const address = { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' };
    const placeOrder = 'mutation Checkout($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }';
    const [first, second] = listed;
    const roomiest = [...listed].sort((a: any, b: any) => b.inventory.available - a.inventory.available)[0];
    // Orders learns products from catalog events: wait until it knows the ones we buy.
    await eventually(async () => {
      const r = await shop.gql('mutation Checkout($input: PlaceOrderInput!) { placeOrder(input: $input) { id } }', {
        input: { items: [{ productId: first.id, quantity: 1 }, { productId: second.id, quantity: 1 }], shippingAddress: address, payment: { token: 'tok_visa' }, idempotencyKey: randomUUID() },
      }, token);
      return r.data?.placeOrder?.id ?? null;
    }, 30_000, 500).catch((error: unknown) => trafficProblems.push(`place order: ${String(error)}`));
    // Two rounds, a few scrapes apart: a counter's first increment creates its series, and only
    // the next one shows as a rate.
    for (const round of [1, 2]) {
      // 3-D Secure (on the product with the most stock, so it is never rejected for stock): the
      // order waits for the customer's authentication (the authentication panel).
      for (const [product, card] of [[first, 'tok_visa'], [second, 'tok_chargeDeclined'], [roomiest, 'tok_threeDSecureRequired']] as const) {
        const placed = await step(`place order ${round} (${card})`, () =>
          shop.gql(placeOrder, { input: { items: [{ productId: product.id, quantity: 1 }], shippingAddress: address, payment: { token: card }, idempotencyKey: randomUUID() } }, token),
        );
        const id: string | undefined = placed?.placeOrder?.id;
        if (card === 'tok_threeDSecureRequired' && id) {
          await eventually(async () => ((await shop.gql('query O($id: ID!) { order(id: $id) { payment { status } } }', { id }, token)).data?.order?.payment?.status === 'REQUIRES_ACTION' ? true : null), 30_000, 200).catch(() =>
            trafficProblems.push(`place order ${round} (${card}): never REQUIRES_ACTION`),
          );
        }
      }
      if (round === 1) await new Promise((r) => setTimeout(r, 2_500));
    }

    // After delivery: an order shipped, delivered and partly returned (the returns panels).
    const returned = await step('order to return', () => shop.gql(placeOrder, { input: { items: [{ productId: first.id, quantity: 1 }], shippingAddress: address, payment: { token: 'tok_visa' }, idempotencyKey: randomUUID() } }, token));
    const returnedId: string | undefined = returned?.placeOrder?.id;
    if (returnedId) {
      const backOffice = await shop.tokenFor({ roles: ['ADMIN'] });
      await eventually(async () => ((await shop.gql('query O($id: ID!) { order(id: $id) { status } }', { id: returnedId }, token)).data?.order?.status === 'CONFIRMED' ? true : null), 30_000, 200).catch(() =>
        trafficProblems.push('order to return: never CONFIRMED'),
      );
      await step('ship', () => shop.gql('mutation S($id: ID!) { shipOrder(id: $id, carrier: "UPS", trackingNumber: "1Z999") { status } }', { id: returnedId }, backOffice));
      await step('deliver', () => shop.gql('mutation D($id: ID!) { markDelivered(id: $id) { status } }', { id: returnedId }, backOffice));
      await step('request return', () => shop.gql('mutation R($id: ID!, $p: ID!) { requestReturn(orderId: $id, lines: [{ productId: $p, quantity: 1 }], reason: "too small") { status } }', { id: returnedId, p: first.id }, token));
    }

    // Back office: a restock (seen by a stock subscription), and a threshold that puts a product under it.
    subscriptions = createClient({ url: shop.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
    const client = subscriptions;
    const stockEvent = new Promise<unknown>((resolve, reject) => {
      client.subscribe({ query: 'subscription Stock($ids: [ID!]!) { stockChanged(productIds: $ids) { available } }', variables: { ids: [listed[2].id] } }, { next: resolve, error: reject, complete: () => reject(new Error('completed')) });
    });
    await new Promise((r) => setTimeout(r, 1_000)); // let the subscription reach the subgraph before the change
    const admin = await shop.tokenFor({ roles: ['ADMIN'] });
    await step('restock', () => shop.gql('mutation Restock($id: ID!) { adjustInventory(productId: $id, delta: 5, reason: "restock") { available } }', { id: listed[2].id }, admin));
    await Promise.race([stockEvent, new Promise((_, reject) => setTimeout(() => reject(new Error('no event within 15 s')), 15_000))]).catch((error: unknown) =>
      trafficProblems.push(`stockChanged subscription: ${error instanceof Error ? error.message : String((error as { message?: string; type?: string })?.message ?? (error as { type?: string })?.type ?? error)}`),
    );
    await step('low-stock threshold', () => shop.gql('mutation Threshold($id: ID!) { setLowStockThreshold(productId: $id, threshold: 100000) { isLowStock } }', { id: listed[3].id }, admin));

    // A poison event on a topic inventory consumes: dead-lettered at once.
    await shop.bus.publish([{ topic: OrderPlaced.topic, key: randomUUID(), value: 'not json', headers: { 'event-type': OrderPlaced.type } }]);

    const placed = await eventually(async () => Number((await stack.query('sum(orders_placed_total)'))[0]?.value[1] ?? 0) >= 1 || null, 20_000).catch(() => false);
    if (!placed) trafficProblems.push('orders_placed_total never reached Prometheus');
    const deadLettered = await eventually(async () => {
      const r = await stack.query('sum by (service) (events_dead_lettered_total)');
      return r.find((s) => s.metric['service'] === 'inventory' && Number(s.value[1]) >= 1) ?? null;
    }, 20_000);
    expect(deadLettered.metric['service']).toBe('inventory');
    expect(trafficProblems).toEqual([]);
  });

  it('should take a run of npm run load (the seeded shopper mix) with few unexpected answers', async () => {
    const summary = await runLoad({ url: shop.url, rate: 8, durationSeconds: 15, seed: 23, admin: { token: await shop.tokenFor({ roles: ['ADMIN'] }) } });
    expect(summary.completed).toBeGreaterThan(60);
    expect(summary.kinds.map((k) => k.kind)).toEqual(expect.arrayContaining(['browse', 'search', 'product page', 'checkout', 'bad input', 'admin adjustment']));
    // More than 5% unexpected answers: show what they were.
    expect(summary.errors <= summary.completed * 0.05 ? [] : summary.errorSamples).toEqual([]);
  });

  it('should fire the error-rate alert on an error burst and deliver it to the webhook', async () => {
    // The catalog goes away: every product query through the gateway now fails.
    await shop.supergraph.stopService('catalog');
    let bursting = true;
    try {
      const failures = await Promise.all(Array.from({ length: 40 }, () => shop.gql('query Home { products(first: 5) { edges { node { id name } } } }')));
      expect(failures.every((r) => r.errors?.length)).toBe(true);
      // Keep the outage visible, as a real one is, until the alert arrives (bounded by the wait below):
      // on a loaded machine a single burst can fall between the rule evaluations.
      const burst = (async () => {
        while (bursting) {
          await shop.gql('query Home { products(first: 5) { edges { node { id name } } } }').catch(() => undefined);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const firing = await eventually(
        () => webhook.notifications.find((n) => n.status === 'firing' && n.path === '/alerts/oncall' && n.alerts.some((a) => a.labels['alertname'] === 'ShopHighErrorRate' && a.labels['service'] === 'gateway')),
        45_000,
        200,
      ).catch(async (error: unknown) => {
        // Say where it stopped: the ratio Prometheus computed, its alerts, what reached the webhook.
        const ratio = await stack.query('service:graphql_operations_error_ratio:rate5m');
        const alerts = await stack.query('ALERTS');
        throw new Error(`${String(error)}\nerror ratio: ${JSON.stringify(ratio)}\nALERTS: ${JSON.stringify(alerts.map((a) => a.metric))}\nwebhook: ${JSON.stringify(webhook.notifications)}`);
      });
      bursting = false;
      await burst;
      expect(firing.receiver).toBe('shop-oncall');
      const alert = firing.alerts.find((a) => a.labels['alertname'] === 'ShopHighErrorRate')!;
      expect(alert.labels['severity']).toBe('critical');
      expect(alert.annotations['summary']).toMatch(/^gateway: \d+(\.\d+)?% of operations fail$/);
      // The dead letter of the previous case, routed to the team.
      await eventually(() => webhook.notifications.find((n) => n.path === '/alerts/team' && n.alerts.some((a) => a.labels['alertname'] === 'ShopEventDeadLettered')), 30_000, 200);
    } finally {
      bursting = false;
      await shop.supergraph.startService('catalog');
    }
  });

  it('should have data for every panel of every dashboard', async () => {
    const queries = DASHBOARDS.flatMap((spec) => panelQueries(buildDashboard(spec)).map((q) => ({ ...q, dashboard: spec.uid, expr: grafanaVariables(q.expr) })));
    expect(queries.length).toBeGreaterThan(40);
    let empty: string[] = [];
    // Recording rules need an evaluation or two after the traffic: poll, bounded.
    await eventually(async () => {
      const results = await Promise.all(queries.map(async (q) => ({ q, n: (await stack.query(q.expr)).length })));
      empty = results.filter((r) => r.n === 0).map((r) => `${r.q.dashboard} / ${r.q.panel}: ${r.q.expr}`);
      return empty.length === 0;
    }, 30_000, 1_000).catch(() => undefined);
    expect({ panelsWithoutData: empty, trafficProblems }).toEqual({ panelsWithoutData: [], trafficProblems: [] });
  });
});
