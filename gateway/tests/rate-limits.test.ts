/**
 * Rate budgets at the gateway, through real gateways (GraphQL over HTTP and graphql-ws) in front of
 * two real subgraphs, with the counters in the test run's real redis-server where replicas share
 * them. Client addresses come from X-Forwarded-For (the gateways trust one proxy hop), so one test
 * process can be many clients; loopback is exempt by default, so every gateway here sets no exemption.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { eventually, startRedisServer, testRedisUrl } from '@shop/platform/testing';
import type { RunningGateway } from '../src/gateway';
import type { RateLimitSettings } from '../src/rate-limits';
import { clientGroup } from '../src/rate-limits';
import type { Fixture } from './subscriptions.fixture';
import { startFixture } from './subscriptions.fixture';

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
}

async function post(gateway: RunningGateway, query: string, { from, token }: { from: string; token?: string }): Promise<Answer> {
  const res = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': from, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer['body'] };
}

/** `gateway_rate_limited_total` of the requests budget of anonymous HTTP callers, from the gateway's /metrics. */
async function refusedMetric(gateway: RunningGateway): Promise<number> {
  const text = await (await fetch(gateway.url.replace('/graphql', '/metrics'))).text();
  const line = text.split('\n').find((l) => l.startsWith('gateway_rate_limited_total{budget="requests",caller="anonymous",transport="http"}'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const CHEAP = '{ product(id: "1") { id } }';
const MUTATION = 'mutation { touchProduct(id: "1") { id } }';

/** Budgets small enough to exhaust in a test, each limit on its own unless a test lowers it. */
function budgets(overrides: RateLimitSettings = {}): RateLimitSettings {
  return { exemptAddresses: [], anonymousRequests: 1_000, userRequests: 1_000, mutations: 1_000, cost: 1_000_000, keyPrefix: `test:${randomBytes(4).toString('hex')}`, ...overrides };
}

/** Sends `query` until it is refused (at most `max` times); answers every answer. */
async function untilRefused(send: () => Promise<Answer>, max: number): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let i = 0; i < max; i++) {
    const answer = await send();
    answers.push(answer);
    if (answer.status === 429) break;
  }
  return answers;
}

describe('rate limits at the gateway', () => {
  let fixture: Fixture;

  beforeAll(async () => {
    fixture = await startFixture({}, { trustProxy: 1, rateLimits: budgets({ anonymousRequests: 5 }) });
  }, 90_000);
  afterAll(async () => {
    await fixture?.stop();
  });

  it('should refuse an anonymous client past its budget with RATE_LIMITED, retryAfterSeconds, HTTP 429 and the RateLimit headers', async () => {
    const refusedBefore = await refusedMetric(fixture.gateway);
    const answers = await untilRefused(() => post(fixture.gateway, CHEAP, { from: '203.0.113.7' }), 10);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(answers.slice(0, 5).map((a) => a.headers.get('ratelimit-remaining'))).toEqual(['4', '3', '2', '1', '0']);
    for (const a of answers) expect(a.headers.get('ratelimit-limit')).toBe('5');
    const refused = answers.at(-1)!;
    const error = refused.body.errors?.[0];
    expect(error?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryable: true, budget: 'requests' });
    const retryAfter = error?.extensions?.['retryAfterSeconds'] as number;
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('retry-after')).toBe(String(retryAfter));
    expect(Number(refused.headers.get('ratelimit-reset'))).toBe(retryAfter);
    expect(refused.headers.get('content-type')).toMatch(/json/);
    expect(JSON.stringify(refused.body)).not.toMatch(/stacktrace|"http"/);
    expect(await refusedMetric(fixture.gateway)).toBe(refusedBefore + 1);
  });

  it('should not touch another client while one is refused, and should group IPv6 clients by /64', async () => {
    const [limited, other] = await Promise.all([
      untilRefused(() => post(fixture.gateway, CHEAP, { from: '192.0.2.50' }), 10),
      Promise.all([1, 2, 3].map(() => post(fixture.gateway, CHEAP, { from: '198.51.100.9' }))),
    ]);
    expect(limited.at(-1)?.status).toBe(429);
    expect(other.map((a) => a.status)).toEqual([200, 200, 200]);
    expect((await post(fixture.gateway, CHEAP, { from: '198.51.100.9' })).status).toBe(200);

    // Five requests from five addresses of one /64 use up that /64's budget; the next /64 has its own.
    for (let i = 1; i <= 5; i++) expect((await post(fixture.gateway, CHEAP, { from: `2001:db8:aa:1::${i}` })).status).toBe(200);
    expect((await post(fixture.gateway, CHEAP, { from: '2001:db8:aa:1:ffff:ffff:ffff:ffff' })).status).toBe(429);
    expect((await post(fixture.gateway, CHEAP, { from: '2001:db8:aa:2::1' })).status).toBe(200);
  });

  it('should count a signed-in caller per user, wherever the requests come from', async () => {
    const gateway = await fixture.startGateway({ trustProxy: 1, rateLimits: budgets({ userRequests: 4, anonymousRequests: 1 }) });
    const alice = await fixture.tokenFor();
    const bob = await fixture.tokenFor();
    // Alice from four addresses: one budget of four, even where the anonymous budget (one) would refuse.
    for (const from of ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.3']) expect((await post(gateway, CHEAP, { from, token: alice })).status).toBe(200);
    const refused = await post(gateway, CHEAP, { from: '203.0.113.4', token: alice });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('ratelimit-limit')).toBe('4');
    // Bob, from one of Alice's addresses, has his own.
    expect((await post(gateway, CHEAP, { from: '203.0.113.3', token: bob })).status).toBe(200);
  });

  it('should keep separate budgets for mutations and for expensive operations', async () => {
    const gateway = await fixture.startGateway({ trustProxy: 1, rateLimits: budgets({ mutations: 2, cost: 400 }) });
    const from = '203.0.113.80';
    const mutations = await untilRefused(() => post(gateway, MUTATION, { from }), 5);
    expect(mutations.map((a) => a.status)).toEqual([200, 200, 429]);
    expect(mutations.at(-1)?.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', budget: 'mutations' });
    expect(mutations.at(-1)?.headers.get('ratelimit-limit')).toBe('2');
    expect((await post(gateway, CHEAP, { from })).status).toBe(200); // queries still run

    // An operation that reads twenty products costs many points; a few use up the cost budget that
    // hundreds of cheap reads would not.
    const expensive = `{ ${Array.from({ length: 20 }, (_, i) => `p${i}: product(id: "${i}") { id name }`).join(' ')} }`;
    const heavy = await untilRefused(() => post(gateway, expensive, { from: '203.0.113.81' }), 50);
    expect(heavy.at(-1)?.status).toBe(429);
    expect(heavy.length).toBeLessThan(20);
    expect(heavy.at(-1)?.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', budget: 'cost' });
    const cheap = await untilRefused(() => post(gateway, CHEAP, { from: '203.0.113.82' }), heavy.length * 3);
    expect(cheap.every((a) => a.status === 200)).toBe(true);
  });

  it('should refuse an SSE subscription of a client past its budget with 429, Retry-After and the RateLimit headers', async () => {
    const gateway = await fixture.startGateway({ trustProxy: 1, rateLimits: budgets({ anonymousRequests: 3 }) });
    const from = '203.0.113.95';
    const spent = await untilRefused(() => post(gateway, CHEAP, { from }), 10);
    expect(spent.at(-1)?.status).toBe(429);
    const res = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-forwarded-for': from },
      body: JSON.stringify({ query: 'subscription { ticks(productIds: ["1"]) { seq } }' }),
    });
    const body = (await res.json()) as Answer['body'];
    expect(res.status).toBe(429);
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', budget: 'requests' });
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect({ limit: res.headers.get('ratelimit-limit'), remaining: res.headers.get('ratelimit-remaining'), reset: Number(res.headers.get('ratelimit-reset')) }).toEqual({ limit: '3', remaining: '0', reset: retryAfter });
  });

  it('should count WebSocket connections and subscribe messages against the same budget as HTTP', async () => {
    const gateway = await fixture.startGateway({ trustProxy: 1, rateLimits: budgets({ anonymousRequests: 4 }) });
    const from = '203.0.113.90';
    const wsUrl = gateway.url.replace('http:', 'ws:');
    const closes: Array<{ code: number; reason: string }> = [];
    const client = (forwardedFor: string) =>
      createClient({
        url: wsUrl,
        retryAttempts: 0,
        lazy: true,
        webSocketImpl: class extends WebSocket {
          constructor(address: string, protocols?: string | string[]) {
            super(address, protocols, { headers: { 'x-forwarded-for': forwardedFor } });
          }
        },
        on: { closed: (e) => void closes.push({ code: (e as { code: number }).code, reason: String((e as { reason: string }).reason) }) },
      });
    const first = client(from);
    const refusals: Array<Array<{ extensions?: Record<string, unknown> }>> = [];
    const subscribe = () =>
      first.subscribe({ query: 'subscription { ticks(productIds: ["1"]) { seq } }' }, { next: () => undefined, error: (errors) => void refusals.push(errors as (typeof refusals)[number]), complete: () => undefined });
    // 1 HTTP request + 1 connection + 2 subscribes = 4: of three subscribes, one is refused.
    expect((await post(gateway, CHEAP, { from })).status).toBe(200);
    for (let i = 0; i < 3; i++) subscribe();
    const refusal = await eventually(() => refusals[0]);
    expect(refusal[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryable: true });
    expect(refusal[0]?.extensions?.['retryAfterSeconds']).toBeGreaterThan(0);
    await first.dispose();
    // A new connection from the same address is closed at once: 1013 Try Again Later.
    const second = client(from);
    await new Promise<void>((resolve) => {
      second.subscribe({ query: 'subscription { ticks(productIds: ["1"]) { seq } }' }, { next: () => undefined, error: () => resolve(), complete: () => resolve() });
    });
    await eventually(() => closes.find((c) => c.code === 1013));
    expect(closes.find((c) => c.code === 1013)?.reason).toMatch(/^Rate limited: retry in \d+ s$/);
    await second.dispose();
    // HTTP from that address is refused too: it is one budget.
    expect((await post(gateway, CHEAP, { from })).status).toBe(429);
  });

  it('should enforce one budget across two gateway instances that share Redis', async () => {
    const shared = budgets({ anonymousRequests: 6 });
    const one = await fixture.startGateway({ trustProxy: 1, redisUrl: testRedisUrl(), rateLimits: shared });
    const two = await fixture.startGateway({ trustProxy: 1, redisUrl: testRedisUrl(), rateLimits: shared });
    expect(one.port).not.toBe(two.port);
    const from = '203.0.113.100';
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await post(i % 2 === 0 ? one : two, CHEAP, { from })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
    // Each instance alone would have allowed six; another client still passes on both.
    expect((await post(one, CHEAP, { from: '203.0.113.101' })).status).toBe(200);
    expect((await post(two, CHEAP, { from: '203.0.113.101' })).status).toBe(200);
  });

  it('should keep limiting, per instance, and keep answering while Redis is down', async () => {
    const port = Number(process.env['TEST_REDIS_PORT'] ?? 16379) + 5;
    const redis = await startRedisServer({ port, dataDir: path.join(__dirname, `../../.data/test-redis-outage-${port}`) });
    const gateway = await fixture.startGateway({ trustProxy: 1, redisUrl: redis.url, rateLimits: budgets({ anonymousRequests: 3 }) });
    try {
      expect((await post(gateway, CHEAP, { from: '203.0.113.110' })).status).toBe(200);
      await redis.stop();
      // In memory meanwhile: answers keep coming, and a budget still runs out.
      const answers = await untilRefused(() => post(gateway, CHEAP, { from: '203.0.113.111' }), 6);
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
      expect((await post(gateway, CHEAP, { from: '203.0.113.112' })).status).toBe(200);
    } finally {
      await redis.stop();
    }
  });

  it('should exempt loopback by default, signed in or not, and nothing else', async () => {
    const gateway = await fixture.startGateway({ rateLimits: { anonymousRequests: 2, userRequests: 2, mutations: 1, keyPrefix: `test:${randomBytes(4).toString('hex')}` } });
    const token = await fixture.tokenFor();
    const local = async (query: string, bearer?: string) =>
      (await fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) }, body: JSON.stringify({ query }) })).status;
    for (let i = 0; i < 5; i++) expect([await local(CHEAP), await local(MUTATION, token)]).toEqual([200, 200]);
    // The same budgets bind a client that is not on loopback (a proxy hop is trusted here to say so).
    const remote = await fixture.startGateway({ trustProxy: 1, rateLimits: { anonymousRequests: 2, keyPrefix: `test:${randomBytes(4).toString('hex')}` } });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(remote, CHEAP, { from: '203.0.113.120' })).status);
    expect(statuses).toEqual([200, 200, 429]);
  });

  it('should not let a client escape its budget by sending X-Forwarded-For to a gateway that trusts no proxy', async () => {
    const gateway = await fixture.startGateway({ rateLimits: budgets({ anonymousRequests: 3 }) });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post(gateway, CHEAP, { from: `198.51.100.${i + 1}` })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  it('should group addresses as the budgets do', () => {
    expect(clientGroup('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(clientGroup('2001:db8:0:1:aaaa::1')).toBe(clientGroup('2001:0db8:0000:0001:ffff:ffff:ffff:ffff'));
    expect(clientGroup('2001:db8:0:2::1')).not.toBe(clientGroup('2001:db8:0:1::1'));
    expect(clientGroup(undefined)).toBe('unknown');
  });
});
