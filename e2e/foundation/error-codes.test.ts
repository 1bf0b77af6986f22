/**
 * Every error code of the registry (PUBLIC_ERRORS), provoked end to end through the gateway of a
 * whole shop, as a client would meet it: the code in `extensions.code`, `retryable: true` where
 * the registry says the same request may succeed later, the registry's HTTP status where the whole
 * request failed, and no internal detail in the answer. The scenario table is typed by the
 * registry, so a code added to it without a scenario here does not compile.
 *
 * A subscription attempted while the gateway shuts down (SERVICE_UNAVAILABLE over graphql-ws) is
 * in gateway/tests/subscriptions.resilience.test.ts: it needs a client that holds the shutdown open.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import WebSocket from 'ws';
import type { PublicErrorCode } from '@shop/platform';
import { INVENTORY_STOCK_TOPIC } from '@shop/events';
import type { InProcessBus } from '@shop/platform';
import { encodeCursor, PUBLIC_ERRORS } from '@shop/platform';
import { eventually } from '@shop/platform/testing';
import { demoProducts, orderInput, PLACE_ORDER } from '../orders/orders-flow';
import type { GraphQLResponse, TestShop } from '../support/harness';
import { startAnotherGateway, startTestShop } from '../support/harness';
import { LOGIN, REGISTER, registerAccount } from '../users/support';

type Answer = Pick<GraphQLResponse<unknown>, 'status' | 'errors'>;

/** How to provoke a code, and whether the request is refused as a whole (then the registry's HTTP status applies). */
interface Scenario {
  readonly run: () => Promise<Answer>;
  readonly wholeRequest?: boolean;
}

/** POSTs a raw JSON body to the gateway. */
async function post(shop: TestShop, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(shop.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, ...((await res.json()) as Omit<Answer, 'status'>) };
}

/** POSTs a body as it is (not JSON-encoded) with the given content type. */
async function postRaw(shop: TestShop, body: string, contentType: string): Promise<Answer> {
  const res = await fetch(shop.url, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, ...((await res.json()) as Omit<Answer, 'status'>) };
}

/** `similar { similar { … name } }`, n levels deep. */
const similarChain = (n: number): string => `${'similar { '.repeat(n)}name${' }'.repeat(n)}`;

/**
 * POSTs `body` to a second gateway over the shop's subgraphs that requires persisted operations
 * (the shop's own gateway runs ad-hoc operations, as every other scenario needs).
 */
async function postRequiringSafelist(shop: TestShop, body: unknown): Promise<Answer> {
  const manifest = path.join(mkdtempSync(path.join(os.tmpdir(), 'safelist-')), 'manifest.json');
  writeFileSync(manifest, JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id: 'categories', name: 'Categories', type: 'query', body: 'query Categories { categories { name } }' }] }));
  const gateway = await startAnotherGateway(shop, { persistedOperations: { mode: 'require', manifest } });
  try {
    const res = await fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, ...((await res.json()) as Omit<Answer, 'status'>) };
  } finally {
    await gateway.stop();
  }
}

/** Sends one subscribe message over graphql-ws and answers what the gateway replied to it. */
async function subscribeOnce(shop: TestShop, query: string, extensions?: Record<string, unknown>): Promise<Answer> {
  const socket = new WebSocket(shop.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const messages: Array<{ id?: string; type: string; payload?: unknown }> = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  try {
    socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    await eventually(() => messages.some((m) => m.type === 'connection_ack'));
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, ...(extensions ? { extensions } : {}) } }));
    const reply = await eventually(() => messages.find((m) => m.id === '1'));
    if (reply.type === 'next') return { status: 101, errors: (reply.payload as { errors?: Answer['errors'] }).errors ?? [] };
    return { status: 101, errors: reply.type === 'error' ? (reply.payload as Answer['errors']) : [] };
  } finally {
    socket.close();
  }
}

describe('every public error code, through the gateway', () => {
  let shop: TestShop;
  let admin: string;
  let customer: string;
  let productId: string;

  beforeAll(async () => {
    shop = await startTestShop({ seed: true, settings: { users: { LOGIN_MAX_FAILURES: 2 } } });
    admin = await shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] });
    customer = (await registerAccount(shop)).auth.accessToken;
    productId = (await demoProducts(shop))[0]!.id;
  }, 90_000);
  afterAll(async () => {
    await shop?.stop();
  });

  const scenarios: Record<PublicErrorCode, Scenario> = {
    BAD_USER_INPUT: { run: () => shop.gql(REGISTER, { input: { email: 'not-an-e-mail', username: 'ada', password: 'correct horse battery' } }) },
    UNAUTHENTICATED: { wholeRequest: true, run: () => post(shop, { query: '{ me { id } }' }, { authorization: 'Bearer not-a-token' }) },
    FORBIDDEN: { run: () => shop.gql('mutation { createCategory(input: { name: "Not yours" }) { id } }', {}, customer) },
    NOT_FOUND: { run: () => shop.gql('mutation($id: ID!) { cancelOrder(id: $id) { id } }', { id: randomUUID() }, customer) },
    CONFLICT: {
      run: async () => {
        const { input } = await registerAccount(shop);
        return shop.gql(REGISTER, { input: { ...input, username: `other${Date.now()}` } });
      },
    },
    INSUFFICIENT_STOCK: { run: () => shop.gql('mutation($id: ID!) { adjustInventory(productId: $id, delta: -1000000, reason: "count") { onHand } }', { id: productId }, admin) },
    RATE_LIMITED: {
      run: async () => {
        const { input } = await registerAccount(shop);
        let last: Answer = { status: 0 };
        for (let attempt = 0; attempt < 5 && last.errors?.[0]?.extensions?.['code'] !== 'RATE_LIMITED'; attempt++) {
          last = await shop.gql(LOGIN, { email: input.email, password: 'wrong password, again' });
        }
        expect(last.errors?.[0]?.extensions?.['retryAfterSeconds']).toBeGreaterThan(0);
        return last;
      },
    },
    SERVICE_UNAVAILABLE: {
      wholeRequest: true,
      run: async () => {
        await shop.supergraph.stopService('orders');
        try {
          return await shop.gql(PLACE_ORDER, { input: orderInput([{ productId, quantity: 1 }]) }, customer);
        } finally {
          await shop.supergraph.startService('orders');
        }
      },
    },
    GRAPHQL_PARSE_FAILED: { run: () => subscribeOnce(shop, 'subscription { stockChanged(') },
    GRAPHQL_VALIDATION_FAILED: { wholeRequest: true, run: () => post(shop, { query: '{ noSuchField }' }) },
    BAD_REQUEST: { wholeRequest: true, run: () => post(shop, { variables: {} }) },
    OPERATION_RESOLUTION_FAILURE: { wholeRequest: true, run: () => post(shop, { query: 'query A { __typename } query B { __typename }' }) },
    MAX_TOKENS_LIMIT: { wholeRequest: true, run: () => post(shop, { query: `{ ${Array.from({ length: 1000 }, (_, i) => `a${i}: product(id: "x") { id }`).join(' ')} }` }) },
    MAX_DEPTH_LIMIT: { wholeRequest: true, run: () => post(shop, { query: `{ product(id: "x") { ${similarChain(12)} } }` }) },
    MAX_ALIASES_LIMIT: { wholeRequest: true, run: () => post(shop, { query: `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: product(id: "x") { id }`).join(' ')} }` }) },
    MAX_DIRECTIVES_LIMIT: { wholeRequest: true, run: () => post(shop, { query: `{ product(id: "x") { ${'__typename @include(if: true) '.repeat(31)}} }` }) },
    COST_ESTIMATED_TOO_EXPENSIVE: {
      wholeRequest: true,
      run: () => post(shop, { query: `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: products(first: 100) { edges { node { ${similarChain(8)} } } }`).join(' ')} }` }),
    },
    PAYLOAD_TOO_LARGE: { wholeRequest: true, run: () => post(shop, { query: '{ __typename }', variables: { padding: 'x'.repeat(1_100_000) } }) },
    UNSUPPORTED_MEDIA_TYPE: { wholeRequest: true, run: () => postRaw(shop, '{ __typename }', 'text/plain') },
    PERSISTED_QUERY_NOT_LISTED: { wholeRequest: true, run: () => postRequiringSafelist(shop, { query: '{ categories { name } }' }) },
    CURSOR_EXPIRED: {
      run: async () => {
        // Retention removed what follows this cursor (the start of every stock partition).
        await (shop.bus as InProcessBus).prune(0);
        const cursor = encodeCursor(new Map([[INVENTORY_STOCK_TOPIC, new Map([0, 1, 2, 3].map((p) => [p, 0n]))]]));
        return subscribeOnce(shop, `subscription { stockChanged(productIds: ["${productId}"]) { available } }`, { resumeFrom: cursor });
      },
    },
    PERSISTED_QUERY_NOT_FOUND: { run: () => post(shop, { extensions: { persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(32) } } }) },
    INTERNAL_SERVER_ERROR: {
      run: async () => {
        // A failure nobody planned for: the catalog's category table is gone for a moment.
        const db = new Client({ connectionString: shop.databaseUrl('catalog') });
        await db.connect();
        try {
          await db.query('ALTER TABLE category RENAME TO category_away');
          return await shop.gql('{ categories { name } }');
        } finally {
          await db.query('ALTER TABLE category_away RENAME TO category');
          await db.end();
        }
      },
    },
  };

  it.each(Object.keys(PUBLIC_ERRORS) as PublicErrorCode[])('should answer %s as the registry declares it', async (code) => {
    const spec: { readonly httpStatus?: number; readonly retryable: boolean } = PUBLIC_ERRORS[code];
    const scenario = scenarios[code];
    const answer = await scenario.run();
    const error = answer.errors?.[0];
    expect(error?.extensions?.['code']).toBe(code);
    expect(error?.extensions?.['retryable'] ?? false).toBe(spec.retryable);
    if (scenario.wholeRequest) expect(answer.status).toBe(spec.httpStatus);
    // Nothing internal leaves the gateway: no stack traces, no SQL, no server paths.
    expect(JSON.stringify(answer)).not.toMatch(/stacktrace|\bat .*\.ts:\d+|category_away|relation "|\/work\/|node_modules/i);
  });

  it('should keep serving once the failures are over', async () => {
    await eventually(async () => !(await shop.gql(PLACE_ORDER, { input: orderInput([{ productId, quantity: 1 }]) }, customer)).errors, 15_000);
    expect((await shop.gql('{ categories { name } }')).errors).toBeUndefined();
  });
});
