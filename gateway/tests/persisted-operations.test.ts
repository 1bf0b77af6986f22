/**
 * Persisted operations (the safelist) through real gateways in front of two real subgraphs: require
 * mode refuses what is not listed and runs what is, sent by id alone; allow mode runs both and
 * keeps automatic persisted queries; the manifest is Apollo's format, from a file or a directory.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { eventually } from '@shop/platform/testing';
import type { RunningGateway } from '../src/gateway';
import { buildManifest } from '../src/persisted-manifest';
import { PersistedOperations } from '../src/persisted-operations';
import type { Fixture } from './subscriptions.fixture';
import { startFixture } from './subscriptions.fixture';

const PRODUCT = 'query Product($id: ID!) { product(id: $id) { id name } }';
const TOUCH = 'mutation Touch { touchProduct(id: "7") { id } }';
const TICKS = 'subscription Ticks { ticks(productIds: ["p1"]) { seq product { name } } }';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function manifest(operations: Array<{ name: string; type: string; body: string }>) {
  return { format: 'apollo-persisted-query-manifest', version: 1, operations: operations.map((op) => ({ id: sha256(op.body), ...op })) };
}

interface Answer {
  readonly status: number;
  readonly body: { data?: any; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
}

async function post(gateway: RunningGateway, body: unknown): Promise<Answer> {
  const res = await fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

async function metric(gateway: RunningGateway, outcome: string): Promise<number> {
  const text = await (await fetch(gateway.url.replace('/graphql', '/metrics'))).text();
  const line = text.split('\n').find((l) => l.startsWith(`gateway_persisted_operations_total{outcome="${outcome}",transport="http"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('persisted operations at the gateway', () => {
  let fixture: Fixture;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'safelist-'));
    // A directory of manifests, as two shop teams would each ship one.
    mkdirSync(path.join(dir, 'web'));
    writeFileSync(path.join(dir, 'web', 'storefront.json'), JSON.stringify(manifest([{ name: 'Product', type: 'query', body: PRODUCT }])));
    writeFileSync(path.join(dir, 'web', 'admin.json'), JSON.stringify(manifest([{ name: 'Touch', type: 'mutation', body: TOUCH }, { name: 'Ticks', type: 'subscription', body: TICKS }])));
    fixture = await startFixture({}, { persistedOperations: { mode: 'require', manifest: path.join(dir, 'web') } });
  }, 90_000);
  afterAll(async () => {
    await fixture?.stop();
  });

  it('should refuse an operation that is not listed with PERSISTED_QUERY_NOT_LISTED (400), in require mode', async () => {
    const refusedBefore = await metric(fixture.gateway, 'refused');
    const answer = await post(fixture.gateway, { query: '{ product(id: "1") { id name } }' });
    expect(answer.status).toBe(400);
    expect(answer.body.data).toBeUndefined();
    expect(answer.body.errors?.[0]?.extensions?.['code']).toBe('PERSISTED_QUERY_NOT_LISTED');
    // An id the safelist does not know: the same refusal (registering it as APQ would not help).
    const unknown = await post(fixture.gateway, { extensions: { persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(32) } } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors?.[0]?.extensions?.['code']).toBe('PERSISTED_QUERY_NOT_LISTED');
    // …and an APQ registration of unlisted text does not sneak it in.
    const text = '{ product(id: "2") { id } }';
    expect((await post(fixture.gateway, { query: text, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(text) } } })).body.errors?.[0]?.extensions?.['code']).toBe('PERSISTED_QUERY_NOT_LISTED');
    expect((await post(fixture.gateway, { extensions: { persistedQuery: { version: 1, sha256Hash: sha256(text) } } })).status).toBe(400);
    expect(await metric(fixture.gateway, 'refused')).toBe(refusedBefore + 4);
  });

  it('should run a listed operation sent by its id alone, over POST and GET, and count it as safelisted', async () => {
    const before = await metric(fixture.gateway, 'safelisted');
    const byId = await post(fixture.gateway, { operationName: 'Product', variables: { id: '42' }, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(PRODUCT) } } });
    expect(byId).toEqual({ status: 200, body: { data: { product: { id: '42', name: 'Product 42' } } } });
    const mutation = await post(fixture.gateway, { extensions: { persistedQuery: { version: 1, sha256Hash: sha256(TOUCH) } } });
    expect(mutation.body).toEqual({ data: { touchProduct: { id: '7' } } });
    // GET with the id (what clients use for CDN-cacheable reads); csrf prevention wants a header.
    const params = new URLSearchParams({ variables: JSON.stringify({ id: '5' }), extensions: JSON.stringify({ persistedQuery: { version: 1, sha256Hash: sha256(PRODUCT) } }) });
    const get = await fetch(`${fixture.gateway.url}?${params}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ data: { product: { id: '5', name: 'Product 5' } } });
    // The exact text of a listed operation is listed too.
    expect((await post(fixture.gateway, { query: PRODUCT, variables: { id: '1' } })).body.data).toEqual({ product: { id: '1', name: 'Product 1' } });
    expect(await metric(fixture.gateway, 'safelisted')).toBe(before + 4);
  });

  it('should still answer introspection, so GraphiQL loads the schema', async () => {
    const answer = await post(fixture.gateway, { query: '{ __schema { queryType { name } } }' });
    expect(answer).toEqual({ status: 200, body: { data: { __schema: { queryType: { name: 'Query' } } } } });
  });

  it('should apply the safelist to subscriptions over WebSocket', async () => {
    fixture.ticker(); // the ticker is up
    const client = createClient({ url: fixture.gateway.url.replace('http:', 'ws:'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
    try {
      const refused: unknown[] = [];
      client.subscribe({ query: 'subscription { ticks(productIds: ["p1"]) { seq } }' }, { next: () => undefined, error: (e) => void refused.push(e), complete: () => undefined });
      const errors = (await eventually(() => refused[0])) as Array<{ extensions?: Record<string, unknown> }>;
      expect(errors[0]?.extensions?.['code']).toBe('PERSISTED_QUERY_NOT_LISTED');
      const events: unknown[] = [];
      client.subscribe({ query: TICKS }, { next: (v) => void events.push(v), error: (e) => void events.push(e), complete: () => undefined });
      await eventually(() => {
        fixture.publish({ seq: 1, productId: 'p1' });
        return events.length > 0;
      });
      expect(events[0]).toEqual({ data: { ticks: { seq: 1, product: { name: 'Product p1' } } } });
    } finally {
      await client.dispose();
    }
  });

  it('should run listed operations by id and anything else in allow mode, with automatic persisted queries kept', async () => {
    const gateway = await fixture.startGateway({ persistedOperations: { mode: 'allow', manifest: path.join(dir, 'web', 'storefront.json') } });
    const adHocBefore = await metric(gateway, 'ad_hoc');
    expect((await post(gateway, { variables: { id: '3' }, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(PRODUCT) } } })).body.data).toEqual({ product: { id: '3', name: 'Product 3' } });
    expect((await post(gateway, { query: '{ product(id: "4") { id } }' })).body.data).toEqual({ product: { id: '4' } });
    // APQ: an unknown hash asks for the text, the text registers it, then the hash alone runs.
    const text = '{ product(id: "9") { name } }';
    const extensions = { persistedQuery: { version: 1, sha256Hash: sha256(text) } };
    expect((await post(gateway, { extensions })).body.errors?.[0]?.extensions?.['code']).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect((await post(gateway, { query: text, extensions })).body.data).toEqual({ product: { name: 'Product 9' } });
    expect((await post(gateway, { extensions })).body.data).toEqual({ product: { name: 'Product 9' } });
    expect(await metric(gateway, 'ad_hoc')).toBe(adHocBefore + 3);
  });

  it('should run, by id, an operation from a manifest built from .graphql files (npm run manifest)', async () => {
    const built = buildManifest([
      { name: 'product.graphql', text: 'query ProductWithNames($id: ID!) { product(id: $id) { ...Names } }' },
      { name: 'fragments.graphql', text: 'fragment Names on Product { id name }\nfragment Unused on Product { id }' },
    ]);
    expect(built.operations.map((o) => o.name)).toEqual(['ProductWithNames']);
    const [operation] = built.operations;
    expect(operation?.body).toContain('fragment Names on Product');
    expect(operation?.body).not.toContain('Unused');
    const file = path.join(dir, 'built.json');
    writeFileSync(file, JSON.stringify(built));
    const gateway = await fixture.startGateway({ persistedOperations: { mode: 'require', manifest: file } });
    const answer = await post(gateway, { variables: { id: '8' }, extensions: { persistedQuery: { version: 1, sha256Hash: operation?.id } } });
    expect(answer).toEqual({ status: 200, body: { data: { product: { id: '8', name: 'Product 8' } } } });
    expect(() => buildManifest([{ name: 'anon.graphql', text: '{ product(id: "1") { id } }' }])).toThrow(/anon\.graphql: every operation needs a name/);
  });

  it('should refuse to start on a manifest that is not Apollo\'s format, naming the file', () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ format: 'something-else', version: 1, operations: [] }));
    expect(() => PersistedOperations.load({ mode: 'require', manifest: bad })).toThrow(/bad\.json.*apollo-persisted-query-manifest/);
    expect(() => PersistedOperations.load({ mode: 'allow' })).toThrow(/needs a manifest/);
    const clash = path.join(dir, 'clash');
    mkdirSync(clash);
    writeFileSync(path.join(clash, 'a.json'), JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id: 'x', name: 'A', type: 'query', body: '{ a: __typename }' }] }));
    writeFileSync(path.join(clash, 'b.json'), JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id: 'x', name: 'B', type: 'query', body: '{ b: __typename }' }] }));
    expect(() => PersistedOperations.load({ mode: 'require', manifest: clash })).toThrow(/id x has two different bodies/);
  });
});
