/**
 * The path of a cached whole answer (gateway/src/cache/response-cache-http.ts): a POST whose body
 * has the bytes of one answered from the cache before is answered ahead of Express. These tests
 * check that such an answer is the one the full pipeline gives, with the same checks before it:
 * the token (revoked, expired, forged: refused as on a miss), the `requests` budget (one point per
 * request, a refusal as on a miss), the freshness at that moment (never an answer outdated by an
 * event the gateway was delivered), and that a request the lane reads but does not know reaches
 * Express whole. Which way each answer took is the gateway's own count
 * (`gateway_cache_answers_total{way}`).
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { RunningGateway } from '@shop/gateway';
import { jwtVerifier, SessionRevocations } from '@shop/gateway';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from '@shop/platform';
import { eventually } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { startAnotherGateway, startTestShop } from '../support/harness';
import { asAdmin, invalidationsHandled, settledInvalidations } from './cache-support';

const PRODUCT = 'query Page($id: ID!) { product(id: $id) { id name price { amount } inventory { available } } }';
const CATEGORIES = '{ categories { id name } }';

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly body: { data?: any; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
}

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: JSON.parse(text) as Answer['body'] };
}

async function metric(gatewayUrl: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(gatewayUrl.replace(/\/graphql$/, '/metrics'))).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
}
const laneAnswers = (url: string) => metric(url, 'gateway_cache_answers_total', 'way="lane"');

describe('cached answers ahead of Express', () => {
  let shop: TestShop;
  let gateway: RunningGateway;
  let limited: RunningGateway;
  const revocations = new SessionRevocations();
  let ids: [string, string];
  const page = (id: string) => JSON.stringify({ query: PRODUCT, operationName: 'Page', variables: { id } });
  const bearer = async (user: Parameters<TestShop['tokenFor']>[0] = {}) => ({ authorization: `Bearer ${await shop.tokenFor(user)}` });

  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process', seed: true });
    // Budgets counted for this machine's address too (loopback is exempt by default).
    gateway = await startAnotherGateway(shop, { verifier: jwtVerifier(shop.jwtSecret, revocations), revocations, bus: shop.bus, rateLimits: { exemptAddresses: [], userRequests: 10_000, anonymousRequests: 10_000 } });
    limited = await startAnotherGateway(shop, { bus: shop.bus, rateLimits: { exemptAddresses: [], anonymousRequests: 10 } });
    const list = await shop.gql<{ products: { edges: Array<{ node: { id: string } }> } }>('{ products(first: 2) { edges { node { id } } } }');
    ids = list.data!.products.edges.map((e) => e.node.id) as [string, string];
    expect(ids[0].length).toBe(ids[1].length);
  }, 180_000);
  afterAll(async () => {
    await limited?.stop();
    await gateway?.stop();
    await shop?.stop();
  });

  it('should answer a repeated request as the full pipeline does: same body, content type, cache-control and ETag', async () => {
    const body = page(ids[0]);
    const miss = await post(gateway.url, body, await bearer());
    expect(miss.status).toBe(200);
    expect(miss.body.data.product.id).toBe(ids[0]);
    const before = await laneAnswers(gateway.url);
    // The second is answered by the handler in Express (which learns the body), the next ones by the lane.
    const answers: Answer[] = [];
    for (let i = 0; i < 4; i++) answers.push(await post(gateway.url, body, { ...(await bearer()), 'x-request-id': `probe-${i}-request` }));
    expect(await laneAnswers(gateway.url)).toBe(before + 3);
    for (const [i, answer] of answers.entries()) {
      expect({ status: answer.status, text: answer.text }).toEqual({ status: 200, text: miss.text });
      for (const header of ['content-type', 'cache-control', 'etag', 'content-length']) expect({ header, value: answer.headers.get(header) }).toEqual({ header, value: miss.headers.get(header) });
      expect(answer.headers.get('x-request-id')).toBe(`probe-${i}-request`);
      expect(answer.headers.get('ratelimit-limit')).toBe('10000');
    }
    expect(miss.headers.get('etag')).toMatch(/^W\/"/);
    // The content type Apollo Server negotiates, and its refusal of what it cannot answer.
    const graphqlResponse = await post(gateway.url, body, { accept: 'application/graphql-response+json' });
    expect({ status: graphqlResponse.status, type: graphqlResponse.headers.get('content-type'), text: graphqlResponse.text }).toEqual({ status: 200, type: 'application/graphql-response+json; charset=utf-8', text: miss.text });
    expect((await post(gateway.url, body, { accept: 'text/html' })).status).toBe(406);
    expect(await laneAnswers(gateway.url)).toBe(before + 4);
  });

  it('should refuse on a cached answer a token revoked after it was used, an expired one and a forged one, as on a miss', async () => {
    const body = page(ids[0]);
    for (let i = 0; i < 3; i++) expect((await post(gateway.url, body, await bearer())).status).toBe(200);
    const sessionId = randomUUID();
    const token = await bearer({ sessionId });
    expect((await post(gateway.url, body, token)).status).toBe(200);
    revocations.revoke([sessionId], Date.now() + 900_000);
    const expired = await bearer({ expiresInSeconds: -10 });
    const forged = {
      authorization: `Bearer ${await new SignJWT({ roles: ['ADMIN'], sid: randomUUID() }).setProtectedHeader({ alg: 'HS256' }).setSubject(randomUUID()).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode('not the shop secret, not the shop secret'))}`,
    };
    const refusals: Array<[Record<string, string>, string]> = [
      [token, 'This session was signed out. Please sign in again.'],
      [expired, 'Your session has expired.'],
      [forged, 'Invalid access token.'],
      [{ authorization: 'Basic dXNlcjpwYXNz' }, 'Authorization header must be "Bearer <token>".'],
    ];
    const lane = await laneAnswers(gateway.url);
    for (const [headers, message] of refusals) {
      // The same refusal as for an operation that was never cached (another product's page).
      for (const id of ids) {
        const answer = await post(gateway.url, page(id), headers);
        expect({ status: answer.status, body: answer.body }).toEqual({ status: 401, body: { errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] } });
      }
    }
    expect(await laneAnswers(gateway.url)).toBe(lane);
    expect((await post(gateway.url, body, await bearer())).status).toBe(200);
    expect(await laneAnswers(gateway.url)).toBe(lane + 1);
  });

  it('should take one point of the requests budget per cached answer, and refuse past it with 429 RATE_LIMITED', async () => {
    const before = await laneAnswers(limited.url);
    const categories = async (): Promise<string | null> => {
      const answer = await post(limited.url, JSON.stringify({ query: CATEGORIES }));
      expect(answer.status).toBe(200);
      return answer.headers.get('ratelimit-remaining');
    };
    const remaining: Array<string | null> = [];
    for (let i = 0; i < 4; i++) remaining.push(await categories());
    // An admin's mutation through this gateway outdates catalog's answers (read-your-writes), and
    // so does catalog's catalog.category-created.v1 once delivered (awaited, so that it outdates
    // the same request): the next request, charged by the lane, finds its answer outdated and goes
    // on to Express, which must not charge it again. The admin's budget is another one.
    const delivered = await settledInvalidations(limited.url);
    const created = await post(limited.url, JSON.stringify({ query: 'mutation { createCategory(input: { name: "Budget probes" }) { id } }' }), await bearer({ roles: ['ADMIN'] }));
    expect(created.body.errors).toBeUndefined();
    await eventually(async () => (await invalidationsHandled(limited.url)) > delivered, 30_000, 20);
    for (let i = 0; i < 6; i++) remaining.push(await categories());
    expect(remaining).toEqual(['9', '8', '7', '6', '5', '4', '3', '2', '1', '0']);
    // Answered by the lane: the 3rd and 4th, and the 6th to 10th (the 5th was outdated).
    expect(await laneAnswers(limited.url)).toBe(before + 7);
    const refused = await post(limited.url, JSON.stringify({ query: CATEGORIES }));
    expect({ status: refused.status, code: refused.body.errors?.[0]?.extensions?.['code'], remaining: refused.headers.get('ratelimit-remaining') }).toEqual({ status: 429, code: 'RATE_LIMITED', remaining: '0' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('should never answer a page outdated by an event the gateway was delivered', async () => {
    const body = page(ids[0]);
    const read = async () => {
      const answer = await post(gateway.url, body);
      expect(answer.status).toBe(200);
      return answer.body.data.product.price.amount as string;
    };
    for (let step = 1; step <= 3; step++) {
      const delivered = await settledInvalidations(gateway.url);
      const lane = await laneAnswers(gateway.url);
      const old = await read();
      expect(await read()).toBe(old);
      expect(await laneAnswers(gateway.url)).toBeGreaterThan(lane);
      const price = `${200 + step}.25`;
      const res = await asAdmin(shop, 'catalog', 'mutation ($id: ID!, $price: Decimal!) { updateProduct(id: $id, input: { price: $price }) { price { amount } } }', { id: ids[0], price });
      expect(res.errors).toBeUndefined();
      await eventually(async () => (await invalidationsHandled(gateway.url)) > delivered, 30_000, 10);
      // From the moment the event is handled: the new price, on every read.
      for (let i = 0; i < 3; i++) expect(await read()).toBe(price);
    }
  });

  it('should hand a body of a learned length that it does not know to Express whole', async () => {
    // The first product's page is learned; the second's body has the same length, other bytes.
    const lane = await laneAnswers(gateway.url);
    const other = await post(gateway.url, page(ids[1]));
    expect(other.status).toBe(200);
    expect(other.body.data.product.id).toBe(ids[1]);
    // Malformed JSON of that length: Express's body parser answers it, as always.
    const malformed = await post(gateway.url, page(ids[1]).replace('{', '['));
    expect({ status: malformed.status, code: malformed.body.errors?.[0]?.extensions?.['code'] }).toEqual({ status: 400, code: 'BAD_REQUEST' });
    expect(await laneAnswers(gateway.url)).toBe(lane);
  });
});
