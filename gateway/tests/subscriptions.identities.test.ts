// Many callers on one upstream connection (issue 22): the gateway multiplexes every caller's
// subscriptions on one graphql-ws connection per subgraph, each subscribe message carrying its own
// signed identity, which the subgraph checks per subscription (see upstream.ts, platform live/serve.ts).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { Identity } from '@shop/platform';
import { registry, signInternalRequest, SUBSCRIBE_METHOD, SUBSCRIPTION_IDENTITY_EXTENSION, subscriptionBody } from '@shop/platform';
import { eventually } from '@shop/platform/testing';
import type { Fixture, Recorded } from './subscriptions.fixture';
import { startFixture, subscribe } from './subscriptions.fixture';

const SECRET_TICKS = 'subscription { secretTicks { seq viewer } }';

async function subgraphConnections(service: string): Promise<number> {
  const m = await registry.getSingleMetric('subgraph_subscription_connections_active')?.get();
  return m?.values.find((v) => v.labels['service'] === service)?.value ?? 0;
}

describe('one upstream connection for many identities', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture();
  }, 60_000);
  afterAll(async () => {
    await fx?.stop();
  });

  it('should carry every signed-in caller on one connection to the subgraph, each subscription run as its own caller', async () => {
    const users = Array.from({ length: 25 }, (_, i) => `user-${i}`);
    const subs = await Promise.all(users.map(async (userId) => subscribe(fx.wsUrl, SECRET_TICKS, {}, await fx.tokenFor({ userId }))));
    await eventually(() => fx.ticker().parts.live.subscriberCount('ticks') === users.length, 15_000);
    expect(fx.subscriptions.upstreamCount).toBe(users.length);
    expect(await subgraphConnections('ticker')).toBe(1);

    fx.publish({ seq: 1, productId: 'any' });
    await eventually(() => subs.every((s) => s.events.length === 1), 15_000);
    subs.forEach((s, i) => expect(s.events).toEqual([{ data: { secretTicks: { seq: 1, viewer: users[i] } } }]));

    for (const s of subs) s.unsubscribe();
    await eventually(async () => fx.subscriptions.upstreamCount === 0 && (await subgraphConnections('ticker')) === 0, 15_000);
    await Promise.all(subs.map(async (s) => s.client.dispose()));
  });

  it('should refuse a forged, expired or misbound identity for that subscription only, the connection going on', async () => {
    const url = fx.ticker().url;
    const closes: number[] = [];
    // Straight to the subgraph, as the gateway connects: a valid handshake with no identity.
    const client = createClient({
      url: url.replace('http:', 'ws:'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: () => signInternalRequest({ secret: fx.internalAuthSecret, audience: 'ticker', method: 'GET', path: '/graphql', body: '', identity: null }),
      on: { closed: (e) => void closes.push((e as { code: number }).code) },
    });
    const identity = (userId: string, expInSeconds = 60): Identity => ({ userId, roles: ['CUSTOMER'], sessionId: `s-${userId}`, exp: Date.now() / 1000 + expInSeconds });
    const signed = (who: Identity, options: { secret?: string; query?: string; now?: number } = {}) =>
      signInternalRequest({
        secret: options.secret ?? fx.internalAuthSecret,
        audience: 'ticker',
        method: SUBSCRIBE_METHOD,
        path: '/graphql',
        body: subscriptionBody(options.query ?? SECRET_TICKS, {}),
        identity: who,
        ...(options.now === undefined ? {} : { now: options.now }),
      });
    const on = (extensions: Record<string, unknown>): Recorded => {
      const recorded: Recorded = { events: [], completed: false, error: undefined, closes: [], client, unsubscribe: () => undefined };
      recorded.unsubscribe = client.subscribe(
        { query: SECRET_TICKS, variables: {}, extensions },
        {
          next: (value) => void recorded.events.push(value as Recorded['events'][number]),
          error: (error) => void (recorded.error = error),
          complete: () => void (recorded.completed = true),
        },
      );
      return recorded;
    };
    const valid = on({ [SUBSCRIPTION_IDENTITY_EXTENSION]: signed(identity('alice')) });
    const refused = [
      on({ [SUBSCRIPTION_IDENTITY_EXTENSION]: signed(identity('mallory'), { secret: 'not-the-internal-secret-not-the-internal-secret' }) }),
      on({ [SUBSCRIPTION_IDENTITY_EXTENSION]: signed(identity('mallory'), { now: Date.now() - 60_000 }) }),
      on({ [SUBSCRIPTION_IDENTITY_EXTENSION]: signed(identity('mallory'), { query: 'subscription { ticks(productIds: ["x"]) { seq } }' }) }),
      on({ [SUBSCRIPTION_IDENTITY_EXTENSION]: signed(identity('mallory', -5)) }),
      on({ [SUBSCRIPTION_IDENTITY_EXTENSION]: 'not-an-object' }),
    ];
    const anonymous = on({});

    await eventually(() => refused.every((r) => r.error !== undefined) && anonymous.completed, 15_000);
    for (const r of refused) expect(r.error).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })]);
    expect(refused.map((r) => r.events)).toEqual(refused.map(() => []));
    // No identity: the connection's (none), so the resolver's own check refuses it.
    expect(anonymous.events).toEqual([{ errors: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })] }]);

    await eventually(() => fx.ticker().parts.live.subscriberCount('ticks') === 1);
    fx.publish({ seq: 9, productId: 'any' });
    await eventually(() => valid.events.length === 1);
    expect(valid.events.map((e) => e.data)).toEqual([{ secretTicks: { seq: 9, viewer: 'alice' } }]);
    expect(closes).toEqual([]);
    valid.unsubscribe();
    await client.dispose();
  });

  it('should sign each identity afresh when it resubscribes after the subgraph restarted', async () => {
    // Signatures living 1 s (+5 s of tolerated skew) and a subgraph away for 7 s: a resubscription
    // carrying the first signature would be refused.
    const short = await startFixture({ internalRequestTtlSeconds: 1, upstream: { retryBaseMs: 50, retryMaxMs: 500, keepAliveMs: 2_000 } });
    try {
      const sub = subscribe(short.wsUrl, SECRET_TICKS, {}, await short.tokenFor({ userId: 'returning' }));
      await eventually(() => short.ticker().parts.live.subscriberCount('ticks') === 1, 15_000);
      short.publish({ seq: 1, productId: 'any' });
      await eventually(() => sub.events.length === 1, 15_000);
      await short.restartTicker(7_000);
      await eventually(() => short.ticker().parts.live.subscriberCount('ticks') === 1, 20_000);
      short.publish({ seq: 2, productId: 'any' });
      await eventually(() => sub.events.length === 2, 15_000);
      expect(sub.events.map((e) => e.data)).toEqual([{ secretTicks: { seq: 1, viewer: 'returning' } }, { secretTicks: { seq: 2, viewer: 'returning' } }]);
      expect(sub.completed).toBe(false);
      sub.unsubscribe();
      await sub.client.dispose();
    } finally {
      await short.stop();
    }
  }, 90_000);
});
