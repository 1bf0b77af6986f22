// Federated subscriptions over HTTP through the gateway: SSE (graphql-sse, distinct and single
// connection) and multipart (Apollo's protocol), on the same core as graphql-ws: the other
// subgraph's fields resolved per event, one shared upstream, auth, and a subgraph restart survived.
import type { HttpSubscriptionTransport } from '@shop/platform/testing';
import { eventually, HTTP_SUBSCRIPTION_TRANSPORTS, MULTIPART_SUBSCRIPTION_ACCEPT, subscribeOverHttp } from '@shop/platform/testing';
import type { Fixture } from './subscriptions.fixture';
import { startFixture, subscribe } from './subscriptions.fixture';

const TICKS = 'subscription($ids: [ID!]!) { ticks(productIds: $ids) { seq product { name } } }';

describe.each(HTTP_SUBSCRIPTION_TRANSPORTS)('federated subscriptions over %s', (transport: HttpSubscriptionTransport) => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture({ httpHeartbeatMs: 200 });
  }, 60_000);
  afterAll(async () => {
    await fx?.stop();
  });
  const subscribers = () => fx.ticker().parts.live.subscriberCount('ticks');

  it('should deliver events in order with the other subgraph resolved, sharing one upstream with graphql-ws clients', async () => {
    const overHttp = subscribeOverHttp(transport, fx.gateway.url, TICKS, { ids: ['h'] });
    const overWs = subscribe(fx.wsUrl, TICKS, { ids: ['h'] });
    await eventually(() => subscribers() === 1 && fx.subscriptions.connectionCount === 2);
    for (let seq = 1; seq <= 5; seq++) fx.publish({ seq, productId: seq === 3 ? 'other' : 'h' });
    await eventually(() => overHttp.events.length === 4 && overWs.events.length === 4);
    expect(overHttp.events).toEqual([1, 2, 4, 5].map((seq) => ({ data: { ticks: { seq, product: { name: 'Product h' } } } })));
    expect(fx.subscriptions.upstreamCount).toBe(1);
    if (transport === 'multipart') expect(overHttp.heartbeats).toBeGreaterThan(0);
    await overHttp.close();
    overWs.unsubscribe();
    await overWs.client.dispose();
    await eventually(() => fx.subscriptions.upstreamCount === 0 && subscribers() === 0 && fx.subscriptions.connectionCount === 0);
  });

  it('should keep the subscription through a subgraph restart and deliver later events', async () => {
    const sub = subscribeOverHttp(transport, fx.gateway.url, TICKS, { ids: ['r'] }, await fx.tokenFor({}));
    await eventually(() => subscribers() === 1);
    fx.publish({ seq: 1, productId: 'r' });
    await eventually(() => sub.events.length === 1);
    await fx.restartTicker(700);
    await eventually(() => subscribers() === 1, 15_000);
    fx.publish({ seq: 2, productId: 'r' });
    await eventually(() => sub.events.length === 2);
    expect(sub.events.map((e) => e.data.ticks.seq)).toEqual([1, 2]);
    expect({ completed: sub.completed, error: sub.error }).toEqual({ completed: false, error: undefined });
    await sub.close();
    await eventually(() => fx.subscriptions.upstreamCount === 0);
  });

  it("should forward the caller's identity and refuse a subscription that needs one", async () => {
    const signedIn = subscribeOverHttp(transport, fx.gateway.url, 'subscription { secretTicks { seq viewer } }', {}, await fx.tokenFor({ userId: 'user-7' }));
    const anonymous = subscribeOverHttp(transport, fx.gateway.url, 'subscription { secretTicks { seq viewer } }');
    await eventually(() => anonymous.completed);
    expect(anonymous.events[0]?.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    await eventually(() => subscribers() === 1);
    fx.publish({ seq: 9, productId: 'x' });
    await eventually(() => signedIn.events.length === 1);
    expect(signedIn.events[0]).toEqual({ data: { secretTicks: { seq: 9, viewer: 'user-7' } } });
    await Promise.all([signedIn.close(), anonymous.close()]);
  });
});

describe('subscription requests over HTTP that cannot be served', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture();
  }, 60_000);
  afterAll(async () => {
    await fx?.stop();
  });

  it('should answer an invalid token, an invalid document and a limit before streaming', async () => {
    const post = (body: unknown, headers: Record<string, string>) => fetch(fx.gateway.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: MULTIPART_SUBSCRIPTION_ACCEPT, ...headers }, body: JSON.stringify(body) });
    const expired = await post({ query: TICKS, variables: { ids: ['a'] } }, { authorization: `Bearer ${await fx.tokenFor({ expiresInSeconds: -10 })}` });
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
    const invalid = await post({ query: 'subscription { ticks(productIds: ["a"]) { nope } }' }, {});
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const tooMany = await post({ query: `subscription { ticks(productIds: ["a"]) { ${Array.from({ length: 31 }, (_, i) => `a${i}: seq`).join(' ')} } }` }, {});
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('MAX_ALIASES_LIMIT');
    const sse = await fetch(fx.gateway.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: 'Bearer not-a-jwt' }, body: JSON.stringify({ query: TICKS, variables: { ids: ['a'] } }) });
    expect(sse.status).toBe(403);
  });

  it('should still answer queries sent with the multipart Accept header as JSON', async () => {
    const res = await fetch(fx.gateway.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: MULTIPART_SUBSCRIPTION_ACCEPT }, body: JSON.stringify({ query: '{ product(id: "q") { name } }' }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { product: { name: 'Product q' } } });
  });
});
