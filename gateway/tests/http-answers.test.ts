// GraphQL over HTTP as clients meet it at the gateway (and the subgraphs behind it), in development
// and production modes: graphql-http's audit of the spec, every malformed request class answered as
// a JSON GraphQL error with its 4xx, limits refused with the code naming the limit, and nothing of
// the server (stack traces, paths) in any answer.
import { signInternalRequest } from '@shop/platform';
import type { AuditFinding } from '@shop/platform/testing';
import { auditGraphqlOverHttp, eventually, subscribeOverHttp } from '@shop/platform/testing';
import type { Fixture } from './subscriptions.fixture';
import { startFixture, subscribe } from './subscriptions.fixture';

/**
 * The SHOULDs Apollo Server itself does not meet, and we keep on purpose: for a client that accepts
 * only the legacy `application/json`, the spec prefers 200 for request errors; Apollo Server (and
 * this API: the issue asks for 400 on parse errors) answers 400, as it does for
 * `application/graphql-response+json`.
 */
const ACCEPTED_SHOULD_FAILURES = [
  'SHOULD use 200 status code on document parsing failure when accepting application/json',
  'SHOULD use 200 status code on document validation failure when accepting application/json',
  'SHOULD use a status code of 200 on variable coercion failure when accepting application/json',
];

const NO_SERVER_DETAILS = /stacktrace|\bat .*\.[jt]s:\d+|\/work\/|node_modules|<!DOCTYPE|<html/i;

interface Answer {
  readonly status: number;
  readonly contentType: string | null;
  readonly text: string;
  readonly body: { errors?: Array<{ message: string; extensions?: Record<string, unknown> }>; data?: unknown };
}

describe.each(['development', 'production'] as const)('HTTP answers of the gateway (%s mode)', (nodeEnv) => {
  let fx: Fixture;
  beforeAll(async () => {
    // A low depth limit, so the small test schema can exceed it.
    fx = await startFixture({}, { nodeEnv, limits: { maxDepth: 3 } });
  }, 60_000);
  afterAll(async () => {
    await fx?.stop();
  });

  const send = async (init: RequestInit & { headers?: Record<string, string> }, url = fx.gateway.url): Promise<Answer> => {
    const res = await fetch(url, init);
    const text = await res.text();
    let body: Answer['body'] = {};
    try {
      body = JSON.parse(text);
    } catch {
      // Asserted by the caller: every answer here must be JSON.
    }
    return { status: res.status, contentType: res.headers.get('content-type'), text, body };
  };
  const postJson = (body: unknown, headers: Record<string, string> = {}) => send({ method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const expectRefusal = (answer: Answer, status: number, code: string) => {
    expect({ status: answer.status, code: answer.body.errors?.[0]?.extensions?.['code'] }).toEqual({ status, code });
    expect(answer.contentType).toMatch(/^application\/(graphql-response\+)?json/);
    expect(answer.text).not.toMatch(NO_SERVER_DETAILS);
  };

  it('should pass the graphql-http audit with no MUST failure on the gateway and each subgraph', async () => {
    const findings: Record<string, AuditFinding[]> = {};
    findings['gateway'] = await auditGraphqlOverHttp(fx.gateway.url);
    // A subgraph answers only the gateway: the audit's requests are signed as the gateway signs them.
    findings['ticker'] = await auditGraphqlOverHttp(fx.ticker().url, { asGateway: { secret: fx.internalAuthSecret, audience: 'ticker' } });
    for (const [name, found] of Object.entries(findings)) {
      expect({ name, must: found.filter((f) => f.level === 'MUST') }).toEqual({ name, must: [] });
      expect({ name, should: found.filter((f) => f.level === 'SHOULD').map((f) => f.name) }).toEqual({ name, should: ACCEPTED_SHOULD_FAILURES });
    }
  });

  it('should answer a parse error with 400 GRAPHQL_PARSE_FAILED', async () => {
    expectRefusal(await postJson({ query: '{' }), 400, 'GRAPHQL_PARSE_FAILED');
  });

  it('should refuse each limit with 400 and the code naming it', async () => {
    const aliases = (n: number, field = 'tickerVersion') => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ');
    const cases: Array<[string, string, number]> = [
      [`{ ${aliases(1000, 'product(id: "x") { id }')} }`, 'MAX_TOKENS_LIMIT', 5_000],
      [`{ ${aliases(31)} }`, 'MAX_ALIASES_LIMIT', 30],
      [`{ tickerVersion ${'@include(if: true) '.repeat(1)} ${Array.from({ length: 31 }, () => '__typename @include(if: true)').join(' ')} }`, 'MAX_DIRECTIVES_LIMIT', 30],
      ['{ product(id: "x") { similar { similar { name } } } }', 'MAX_DEPTH_LIMIT', 3],
    ];
    for (const [query, code, limit] of cases) {
      const answer = await postJson({ query });
      expectRefusal(answer, 400, code);
      expect(answer.body.errors?.[0]?.extensions?.['limit']).toBe(limit);
    }
  });

  it('should answer each malformed body with a JSON GraphQL error and its 4xx, never an HTML page', async () => {
    const raw = (body: string | Uint8Array<ArrayBuffer>, contentType?: string) => send({ method: 'POST', headers: contentType ? { 'content-type': contentType } : {}, body });
    expectRefusal(await raw('{"query": ', 'application/json'), 400, 'BAD_REQUEST');
    expectRefusal(await raw('null', 'application/json'), 400, 'BAD_REQUEST');
    expectRefusal(await raw(new Uint8Array([...Buffer.from('{"query":"{ tickerVersion }", "x": "'), 0xff, 0xfe, ...Buffer.from('"}')]), 'application/json'), 400, 'BAD_REQUEST');
    expectRefusal(await postJson({ query: '{ tickerVersion }', variables: { padding: 'x'.repeat(1_100_000) } }), 413, 'PAYLOAD_TOO_LARGE');
    expectRefusal(await raw('<query/>', 'text/xml'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectRefusal(await raw('{"query":"{ tickerVersion }"}', 'application/json; charset=latin1'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectRefusal(await raw('{"query":"{ tickerVersion }"}'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    // The subgraphs answer the gateway's requests the same way; anyone else's first with 401, whatever the body.
    const malformed = '{"query": ';
    const signed = signInternalRequest({ secret: fx.internalAuthSecret, audience: 'ticker', method: 'POST', path: new URL(fx.ticker().url).pathname, body: malformed });
    expectRefusal(await send({ method: 'POST', headers: { 'content-type': 'application/json', ...signed }, body: malformed }, fx.ticker().url), 400, 'BAD_REQUEST');
    expectRefusal(await send({ method: 'POST', headers: { 'content-type': 'application/json' }, body: malformed }, fx.ticker().url), 401, 'UNAUTHENTICATED');
    expectRefusal(await send({ method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<query/>' }, fx.ticker().url), 401, 'UNAUTHENTICATED');
  });

  it('should refuse a subscription over a plain POST with 400 saying how to subscribe', async () => {
    const answer = await postJson({ query: 'subscription { ticks(productIds: ["a"]) { seq } }' });
    expectRefusal(answer, 400, 'BAD_REQUEST');
    expect(answer.body.errors?.[0]?.message).toMatch(/text\/event-stream.*multipart\/mixed/);
  });

  it("should strip a subgraph's stack traces from errors that leave the gateway", async () => {
    const viaGateway = await postJson({ query: '{ secret product(id: "broken") { name } }' });
    expect(viaGateway.status).toBe(200);
    expect(viaGateway.body.errors?.map((e) => e.extensions?.['code']).sort()).toEqual(['FORBIDDEN', 'INTERNAL_SERVER_ERROR']);
    expect(viaGateway.text).not.toMatch(NO_SERVER_DETAILS);
  });

  it("should strip a subgraph's stack traces from subscription events too", async () => {
    const query = 'subscription { ticks(productIds: ["note"]) { seq product { secretNote } } }';
    const overWs = subscribe(fx.wsUrl, query);
    const overSse = subscribeOverHttp('sse-distinct', fx.gateway.url, query);
    await eventually(() => fx.ticker().parts.live.subscriberCount('ticks') === 1 && fx.subscriptions.connectionCount === 2);
    fx.publish({ seq: 1, productId: 'note' });
    await eventually(() => overWs.events.length === 1 && overSse.events.length === 1);
    for (const events of [overWs.events, overSse.events]) {
      expect(events[0]!.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
      expect(JSON.stringify(events)).not.toMatch(NO_SERVER_DETAILS);
    }
    overWs.unsubscribe();
    await Promise.all([overWs.client.dispose(), overSse.close()]);
  });
});
