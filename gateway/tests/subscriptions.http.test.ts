// Federated subscriptions over HTTP through the gateway: SSE (graphql-sse, distinct and single
// connection) and multipart (Apollo's protocol), on the same core as graphql-ws: the other
// subgraph's fields resolved per event, one shared upstream, auth, and a subgraph restart survived.
import http from 'node:http';
import { rateLimited, registry } from '@shop/platform';
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

/** A client that opens an HTTP subscription and then stops reading its response. */
function stuckHttpClient(url: string, accept: string, query: string, variables: Record<string, unknown>) {
  const state: { status?: number; ended: boolean } = { ended: false };
  let response: http.IncomingMessage | undefined;
  const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', accept } }, (res) => {
    response = res;
    state.status = res.statusCode;
    res.pause();
    res.once('close', () => (state.ended = true));
    res.on('error', () => (state.ended = true));
  });
  req.on('error', () => (state.ended = true));
  req.end(JSON.stringify({ query, variables }));
  return {
    state,
    /** Reads what is left (the data the kernel buffered comes before the end of the connection). */
    resume: () => response?.resume(),
    destroy: () => req.destroy(),
  };
}

async function droppedTotal(): Promise<number> {
  return (await registry.getSingleMetric('gateway_subscription_slow_clients_dropped_total')?.get())?.values[0]?.value ?? 0;
}

describe('slow clients and shutdown over HTTP', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture({ maxPendingEvents: 8 });
  }, 60_000);
  afterAll(async () => {
    await fx?.stop();
  });

  it.each([
    ['SSE', 'text/event-stream'],
    ['multipart', MULTIPART_SUBSCRIPTION_ACCEPT],
  ])('should drop a %s client that stops reading, without delaying the others', async (_name, accept) => {
    const query = 'subscription($ids: [ID!]!) { ticks(productIds: $ids) { seq padding } }';
    const before = await droppedTotal();
    const stuck = stuckHttpClient(fx.gateway.url, accept, query, { ids: ['slow'] });
    const healthy = subscribe(fx.wsUrl, query, { ids: ['slow'] });
    await eventually(() => stuck.state.status === 200 && fx.subscriptions.upstreamCount === 1 && fx.subscriptions.connectionCount === 2);
    await new Promise((r) => setTimeout(r, 100)); // both attached to the shared upstream
    const padding = 'x'.repeat(64 * 1024);
    let seq = 0;
    // Bounded: 64 KiB per event fills loopback buffers (a few MiB) well within it.
    while (seq < 600 && (await droppedTotal()) === before) {
      fx.publish({ seq: ++seq, productId: 'slow', padding });
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await droppedTotal()).toBe(before + 1);
    stuck.resume();
    await eventually(() => stuck.state.ended);
    await eventually(() => healthy.events.length === seq, 15_000);
    expect(healthy.events.map((e) => e.data.ticks.seq)).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
    healthy.unsubscribe();
    await healthy.client.dispose();
    stuck.destroy();
    await eventually(() => fx.subscriptions.upstreamCount === 0 && fx.subscriptions.connectionCount === 0);
  });

  it('should complete every HTTP subscription when the gateway stops', async () => {
    const subs = HTTP_SUBSCRIPTION_TRANSPORTS.map((t) => subscribeOverHttp(t, fx.gateway.url, TICKS, { ids: ['bye'] }));
    await eventually(() => fx.ticker().parts.live.subscriberCount('ticks') === 1 && fx.subscriptions.connectionCount === subs.length);
    fx.publish({ seq: 1, productId: 'bye' });
    await eventually(() => subs.every((s) => s.events.length === 1));
    await fx.gateway.stop();
    await eventually(() => subs.every((s) => s.completed));
    for (const s of subs) expect(s.error).toBeUndefined();
    await Promise.all(subs.map((s) => s.close()));
  });
});

describe('guards and revocation of the subscription core, on every transport', () => {
  let fx: Fixture;
  const blocked = new Set<string>();
  beforeAll(async () => {
    fx = await startFixture({
      reverifyIntervalMs: 200,
      guards: [
        {
          // As a rate budget would: refuse some connections, with when to retry.
          connect: ({ identity }) => (identity && blocked.has(identity.userId) ? rateLimited(7) : undefined),
          subscribe: (_session, payload) => (payload.query.includes('"forbidden-by-guard"') ? rateLimited(3) : undefined),
        },
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await fx?.stop();
  });

  it('should refuse a connection a guard refuses, over WebSocket, SSE and multipart alike', async () => {
    blocked.add('greedy');
    const token = await fx.tokenFor({ userId: 'greedy' });
    const ws = subscribe(fx.wsUrl, TICKS, { ids: ['g'] }, token);
    await eventually(() => ws.closes.length > 0);
    expect(ws.closes[0]!).toEqual({ code: 1013, reason: 'Rate limited: retry in 7 s' });
    for (const accept of ['text/event-stream', MULTIPART_SUBSCRIPTION_ACCEPT]) {
      const res = await fetch(fx.gateway.url, { method: 'POST', headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${token}` }, body: JSON.stringify({ query: TICKS, variables: { ids: ['g'] } }) });
      expect({ accept, status: res.status, retryAfter: res.headers.get('retry-after') }).toEqual({ accept, status: 429, retryAfter: '7' });
      const body = (await res.json()) as { errors: Array<{ extensions: Record<string, unknown> }> };
      expect(body.errors[0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 7 });
    }
    await ws.client.dispose();
  });

  it('should refuse a subscribe request a guard refuses, on each transport', async () => {
    const query = 'subscription { ticks(productIds: ["forbidden-by-guard"]) { seq } }';
    const overHttp = HTTP_SUBSCRIPTION_TRANSPORTS.map((t) => subscribeOverHttp(t, fx.gateway.url, query));
    const overWs = subscribe(fx.wsUrl, query);
    await eventually(() => overWs.error !== undefined && overHttp.every((s) => s.error !== undefined || s.completed));
    expect((overWs.error as Array<{ extensions: { code: string } }>)[0]!.extensions.code).toBe('RATE_LIMITED');
    for (const s of overHttp) expect(JSON.stringify(s.events.length ? s.events : s.error)).toContain('RATE_LIMITED');
    await Promise.all([...overHttp.map((s) => s.close()), overWs.client.dispose()]);
  });

  it('should end the HTTP subscriptions of a session revoked after they started', async () => {
    const subs = await Promise.all(HTTP_SUBSCRIPTION_TRANSPORTS.map(async (t) => subscribeOverHttp(t, fx.gateway.url, 'subscription { secretTicks { seq } }', {}, await fx.tokenFor({ sessionId: `revoke-${t}` }))));
    await eventually(() => fx.ticker().parts.live.subscriberCount('ticks') === subs.length && fx.subscriptions.connectionCount === subs.length);
    fx.publish({ seq: 1, productId: 'x' });
    await eventually(() => subs.every((s) => s.events.length === 1));
    for (const t of HTTP_SUBSCRIPTION_TRANSPORTS) fx.revoke(`revoke-${t}`);
    await eventually(() => subs.every((s) => s.completed), 5_000);
    for (const s of subs) expect(s.events[1]).toEqual({ errors: [expect.objectContaining({ extensions: { code: 'UNAUTHENTICATED' }, message: expect.stringContaining('session has ended') })] });
    await Promise.all(subs.map((s) => s.close()));
  });
});
