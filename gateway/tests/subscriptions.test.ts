// Federated subscriptions through the gateway, against two test subgraphs (see subscriptions.fixture.ts):
// planning and executing the rest of the plan, ordering, sharing, auth, partial errors.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createEnvelope, registry, signInternalRequest } from '@shop/platform';
import { eventually } from '@shop/platform/testing';
import type { Fixture } from './subscriptions.fixture';
import { startFixture, subscribe, TickHappened } from './subscriptions.fixture';

const TICKS = 'subscription Ticks($ids: [ID!]!) { ticks(productIds: $ids) { seq product { id name } } }';

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  const match = m?.values.find((v) => Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val));
  return match?.value ?? 0;
}

describe('federated subscriptions through the gateway', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture({ reverifyIntervalMs: 200 });
  }, 60_000);
  afterAll(async () => {
    await fx?.stop();
  });
  afterEach(async () => {
    // Every test leaves nothing open, upstream or on the subgraph.
    await eventually(() => fx.subscriptions.upstreamCount === 0 && pubsubCount(fx) === 0);
  });

  it('should deliver each event in order with the fields of the other subgraph resolved', async () => {
    const sub = subscribe(fx.wsUrl, TICKS, { ids: ['p1'] });
    await eventually(() => fx.subscriptions.upstreamCount === 1 && pubsubHasSubscribers(fx));
    for (let seq = 1; seq <= 20; seq++) fx.publish({ seq, productId: seq % 2 ? 'p1' : 'other' });
    await eventually(() => sub.events.length === 10);
    expect(sub.events.map((e) => e.data.ticks.seq)).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
    expect(sub.events[0]).toEqual({ data: { ticks: { seq: 1, product: { id: 'p1', name: 'Product p1' } } } });
    sub.unsubscribe();
    await eventually(() => fx.subscriptions.upstreamCount === 0);
    await sub.client.dispose();
  });

  it('should batch the entity fetches of one event into one call', async () => {
    const sub = subscribe(fx.wsUrl, 'subscription { ticks(productIds: ["batch"]) { seq products { name } } }');
    await eventually(() => fx.subscriptions.upstreamCount === 1 && pubsubHasSubscribers(fx));
    const before = { ...fx.names };
    fx.publish({ seq: 1, productId: 'batch', productIds: ['a', 'b', 'c', 'd', 'e'] });
    await eventually(() => sub.events.length === 1);
    expect(sub.events[0]!.data.ticks.products.map((p: { name: string }) => p.name)).toEqual(['Product a', 'Product b', 'Product c', 'Product d', 'Product e']);
    expect(fx.names.entityCalls - before.entityCalls).toBe(1);
    expect(fx.names.representations - before.representations).toBe(5);
    sub.unsubscribe();
    await sub.client.dispose();
  });

  it('should send a partial result with errors when the rest of the plan fails, and keep the subscription', async () => {
    const sub = subscribe(fx.wsUrl, 'subscription { ticks(productIds: ["x"]) { seq products { id name } } }');
    await eventually(() => pubsubCount(fx) === 1);
    fx.publish({ seq: 1, productId: 'x', productIds: ['broken'] });
    fx.publish({ seq: 2, productId: 'x', productIds: ['fine'] });
    await eventually(() => sub.events.length === 2);
    const [failed, ok] = sub.events;
    expect(failed!.errors?.length).toBeGreaterThan(0);
    // Product.name is non-null, so the failed product nulls up to the nearest nullable field.
    expect(failed!.errors![0]!.extensions?.['code']).toBe('INTERNAL_SERVER_ERROR');
    expect(ok).toEqual({ data: { ticks: { seq: 2, products: [{ id: 'fine', name: 'Product fine' }] } } });
    expect(sub.completed).toBe(false);
    sub.unsubscribe();
    await sub.client.dispose();
  });

  it('should share one upstream subscription between identical client subscriptions, each client getting every event', async () => {
    const clients = Array.from({ length: 25 }, (_, i) => subscribe(fx.wsUrl, i % 2 ? TICKS : TICKS.replace('Ticks', 'OtherName'), { ids: ['shared'] }));
    const other = subscribe(fx.wsUrl, TICKS, { ids: ['not-shared'] });
    await eventually(() => fx.subscriptions.upstreamCount === 2 && fx.ticker().deps && pubsubCount(fx) === 2);
    for (let seq = 1; seq <= 3; seq++) fx.publish({ seq, productId: 'shared' });
    await eventually(() => clients.every((c) => c.events.length === 3));
    for (const c of clients) expect(c.events.map((e) => e.data.ticks.seq)).toEqual([1, 2, 3]);
    expect(other.events).toEqual([]);
    expect(await metric('gateway_subscription_upstreams_active', { subgraph: 'ticker' })).toBe(2);
    expect(await metric('subgraph_subscriptions_active', { service: 'ticker', field: 'ticks' })).toBe(2);
    for (const c of [...clients, other]) {
      c.unsubscribe();
      await c.client.dispose();
    }
    await eventually(() => fx.subscriptions.upstreamCount === 0 && pubsubCount(fx) === 0);
  });

  it('should forward the verified identity upstream and refuse a subscription that needs one', async () => {
    const token = await fx.tokenFor({ userId: 'user-42' });
    const signedIn = subscribe(fx.wsUrl, 'subscription { secretTicks { seq viewer } }', {}, token);
    const anonymous = subscribe(fx.wsUrl, 'subscription { secretTicks { seq viewer } }');
    await eventually(() => anonymous.completed);
    expect(anonymous.events).toEqual([{ data: null, errors: [expect.objectContaining({ message: 'You must be signed in.', extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })] }]);
    await eventually(() => pubsubHasSubscribers(fx));
    fx.publish({ seq: 7, productId: 'any' });
    await eventually(() => signedIn.events.length === 1);
    expect(signedIn.events[0]).toEqual({ data: { secretTicks: { seq: 7, viewer: 'user-42' } } });
    signedIn.unsubscribe();
    await signedIn.client.dispose();
    await anonymous.client.dispose();
  });

  it('should close the connection with 4403 for an invalid token and 4401 for an expired one', async () => {
    const invalid = subscribe(fx.wsUrl, TICKS, { ids: ['a'] }, 'not-a-jwt');
    const expired = subscribe(fx.wsUrl, TICKS, { ids: ['a'] }, await fx.tokenFor({ expiresInSeconds: -10 }));
    await eventually(() => invalid.closes.length > 0 && expired.closes.length > 0);
    expect(invalid.closes[0]).toEqual({ code: 4403, reason: 'Forbidden: invalid or revoked access token' });
    expect(expired.closes[0]).toEqual({ code: 4401, reason: 'Unauthorized: your session has expired' });
    expect(invalid.events).toEqual([]);
  });

  it('should end a subscription with a clear error when the token expires', async () => {
    const sub = subscribe(fx.wsUrl, 'subscription { secretTicks { seq } }', {}, await fx.tokenFor({ expiresInSeconds: 3 }));
    await eventually(() => pubsubHasSubscribers(fx));
    fx.publish({ seq: 1, productId: 'x' });
    await eventually(() => sub.completed, 8_000);
    expect(sub.events).toEqual([
      { data: { secretTicks: { seq: 1 } } },
      { errors: [expect.objectContaining({ message: 'Your session has expired; subscribe again with a fresh access token.', extensions: { code: 'UNAUTHENTICATED' } })] },
    ]);
    await eventually(() => fx.subscriptions.upstreamCount === 0);
    await sub.client.dispose();
  });

  it('should end the subscriptions of a session revoked after they started', async () => {
    const sub = subscribe(fx.wsUrl, 'subscription { secretTicks { seq } }', {}, await fx.tokenFor({ sessionId: 'session-to-revoke' }));
    await eventually(() => pubsubCount(fx) === 1);
    fx.publish({ seq: 1, productId: 'x' });
    await eventually(() => sub.events.length === 1);
    fx.revoke('session-to-revoke');
    await eventually(() => sub.completed, 5_000);
    expect(sub.events[1]).toEqual({ errors: [expect.objectContaining({ extensions: { code: 'UNAUTHENTICATED' }, message: expect.stringContaining('session has ended') })] });
    await sub.client.dispose();
  });

  it('should refuse queries, invalid documents and forged identities on the subgraph', async () => {
    const query = subscribe(fx.wsUrl, '{ product(id: "1") { name } }');
    const invalid = subscribe(fx.wsUrl, 'subscription { ticks { nope } }');
    await eventually(() => query.error !== undefined && invalid.error !== undefined);
    expect(query.error).toEqual([expect.objectContaining({ message: expect.stringContaining('subscriptions only'), extensions: { code: 'BAD_REQUEST' } })]);
    expect((invalid.error as Array<{ extensions: { code: string } }>)[0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');

    // Straight to the subgraph with a handshake signed with the wrong secret, or for another subgraph, or not signed.
    const identity = { userId: 'mallory', roles: ['ADMIN' as const], sessionId: 's', exp: Date.now() / 1000 + 60 };
    const handshake = (secret: string, audience: string) => signInternalRequest({ secret, audience, method: 'GET', path: '/graphql', body: '', identity });
    const closes: number[] = [];
    const attempts = [handshake('not-the-internal-secret-not-the-internal-secret', 'ticker'), handshake(fx.internalAuthSecret, 'names'), {}].map((connectionParams) => {
      const client = createClient({ url: fx.ticker().url.replace('http:', 'ws:'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams, on: { closed: (e) => void closes.push((e as { code: number }).code) } });
      client.subscribe({ query: 'subscription { secretTicks { seq } }' }, { next: () => undefined, error: () => undefined, complete: () => undefined });
      return client;
    });
    await eventually(() => closes.length === 3);
    expect(closes).toEqual([4403, 4403, 4403]);
    const direct = { dispose: async () => void (await Promise.all(attempts.map(async (c) => c.dispose()))) };
    await Promise.all([query.client.dispose(), invalid.client.dispose(), direct.dispose()]);
  });

  it('should deliver events fed from the bus by the live listener', async () => {
    const sub = subscribe(fx.wsUrl, TICKS, { ids: ['bus'] });
    await eventually(() => pubsubHasSubscribers(fx));
    await fx.bus.publish([1, 2, 3].map((seq) => ({ topic: TickHappened.topic, key: 'bus', value: JSON.stringify(createEnvelope('test', TickHappened, 'bus', { seq, productId: 'bus' })) })));
    await eventually(() => sub.events.length === 3, 15_000);
    expect(sub.events.map((e) => e.data.ticks.seq)).toEqual([1, 2, 3]);
    expect(await metric('gateway_subscription_events_delivered_total', { root_field: 'ticks' })).toBeGreaterThan(0);
    sub.unsubscribe();
    await sub.client.dispose();
  });
});

function pubsubCount(fx: Fixture): number {
  // The subgraph side: how many subscriptions the ticker replica holds in its pub/sub.
  return fx.ticker().parts.live.subscriberCount('ticks');
}

function pubsubHasSubscribers(fx: Fixture): boolean {
  return pubsubCount(fx) > 0;
}
