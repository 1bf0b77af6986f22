// Drives the self-hosted GraphiQL explorer in a real (Debian) Chromium through playwright-core,
// against a real HTTP GraphQL endpoint and a real graphql-ws server on the same path, with the
// network cut off: any request to a host other than 127.0.0.1/localhost is aborted, recorded and
// fails the test. Needs /usr/bin/chromium (scripts/ensure-chromium.sh); fails, not skips, without it.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema, graphql } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { Page } from 'playwright-core';
import type { OfflineBrowser } from '@shop/platform/testing/browser';
import { editorValueInPage, launchOfflineChromium, setEditor, waitForResult } from '@shop/platform/testing/browser';
import { WebSocketServer } from 'ws';
import { createGraphiqlHandler, prefersHtml } from '../src/graphiql/graphiql';

const SCREENSHOT = '/tmp/graphiql.png';
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

const schema = buildSchema(`
  type Query { products(first: Int = 10): ProductConnection! }
  type ProductConnection { edges: [ProductEdge!]! }
  type ProductEdge { node: Product! }
  type Product { name: String! price: Money! inventory: Inventory! }
  type Money { amount: Float! currencyCode: String! }
  type Inventory { available: Int! }
  type Subscription { inventoryChanged(count: Int = 2): InventoryEvent! }
  type InventoryEvent { seq: Int! sku: String! available: Int! }
`);

const PRODUCTS = [
  { name: 'Aurora Desk Lamp', price: { amount: 49.9, currencyCode: 'EUR' }, inventory: { available: 12 } },
  { name: 'Basalt Coffee Mug', price: { amount: 14.5, currencyCode: 'EUR' }, inventory: { available: 3 } },
  { name: 'Cirrus Wool Throw', price: { amount: 89, currencyCode: 'EUR' }, inventory: { available: 0 } },
  { name: 'Dune Notebook', price: { amount: 7.25, currencyCode: 'EUR' }, inventory: { available: 40 } },
];

const queryRoot = {
  products: ({ first }: { first: number }) => ({ edges: PRODUCTS.slice(0, first).map((node) => ({ node })) }),
};

const subscriptionRoot = {
  inventoryChanged: async function* ({ count }: { count: number }) {
    for (let seq = 1; seq <= count; seq++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      yield { inventoryChanged: { seq, sku: `sku-${seq}`, available: 100 - seq } };
    }
  },
};

interface Recorded {
  httpOperations: Array<{ operationName: string | undefined; authorization: string | undefined }>;
  wsConnectionParams: Array<Record<string, unknown> | undefined>;
  wsSubscriptions: string[];
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function startServer(recorded: Recorded): Promise<{ url: string; close: () => Promise<void> }> {
  const graphiql = createGraphiqlHandler();
  const server = http.createServer((req, res) => {
    if (graphiql(req, res)) return;
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname !== '/graphql') {
      res.writeHead(404).end();
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain' }).end('POST only (test server)');
      return;
    }
    void (async () => {
      try {
        const body = JSON.parse(await readBody(req)) as { query: string; variables?: Record<string, unknown>; operationName?: string };
        recorded.httpOperations.push({ operationName: body.operationName ?? undefined, authorization: req.headers.authorization });
        const result = await graphql({
          schema,
          source: body.query,
          rootValue: queryRoot,
          variableValues: body.variables ?? null,
          operationName: body.operationName ?? null,
        });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
      } catch (error) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: String(error) }] }));
      }
    })();
  });
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const wsServer = useServer(
    {
      schema,
      roots: { query: queryRoot, subscription: subscriptionRoot },
      onConnect: (ctx) => {
        recorded.wsConnectionParams.push(ctx.connectionParams);
      },
      onSubscribe: (_ctx, _id, payload) => {
        recorded.wsSubscriptions.push(payload.query);
      },
    },
    wss,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await wsServer.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('self-hosted GraphiQL explorer (Chromium, offline)', () => {
  const recorded: Recorded = { httpOperations: [], wsConnectionParams: [], wsSubscriptions: [] };
  let blocked: string[] = [];
  let websockets: string[] = [];
  let consoleErrors: string[] = [];
  let pageErrors: string[] = [];
  let server: { url: string; close: () => Promise<void> } | undefined;
  let offline: OfflineBrowser | undefined;
  let page: Page;

  beforeAll(async () => {
    server = await startServer(recorded);
    offline = await launchOfflineChromium();
    ({ page, blocked, websockets, consoleErrors, pageErrors } = offline);
  }, 30_000);

  afterAll(async () => {
    await offline?.close();
    await server?.close();
  });

  it('should serve the explorer page and run the default query over HTTP', async () => {
    const response = await page.goto(`${server!.url}/graphql`, { waitUntil: 'load' });
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.waitForSelector('.graphiql-container', { timeout: 10_000 });
    expect(await page.title()).toBe('Shop supergraph');

    // Like a user pasting a token into the headers editor (open by default).
    await setEditor(page, '.graphiql-editor-tool .graphiql-editor:not(.hidden)', '{"Authorization": "Bearer test-token"}');

    const defaultQuery = await page.evaluate(editorValueInPage, '.graphiql-query-editor');
    expect(defaultQuery.replace(/\s+/g, ' ')).toContain('products(first: 3) { edges { node { name price { amount currencyCode } inventory { available } } } }');

    await page.click('.graphiql-execute-button');
    const result = await waitForResult(page, 'Cirrus Wool Throw');
    expect(result).toContain('Aurora Desk Lamp');
    expect(result).toContain('Basalt Coffee Mug');
    expect(result).toContain('"currencyCode": "EUR"');
    expect(result).not.toContain('Dune Notebook'); // first: 3
    // What the user sees, not just the editor model:
    await expect(page.locator('.graphiql-response').textContent()).resolves.toContain('Aurora Desk Lamp');
    await page.screenshot({ path: SCREENSHOT });

    const run = recorded.httpOperations.find((op) => op.operationName !== 'IntrospectionQuery');
    expect(run).toEqual({ operationName: undefined, authorization: 'Bearer test-token' });
  });

  it('should run a subscription over graphql-ws with the headers as connection_init payload', async () => {
    await setEditor(page, '.graphiql-query-editor', 'subscription {\n  inventoryChanged(count: 2) {\n    seq\n    sku\n    available\n  }\n}\n');
    await page.click('.graphiql-execute-button');
    const result = await waitForResult(page, '"sku": "sku-2"');
    expect(result).toContain('"seq": 2');
    expect(result).toContain('"available": 98');
    await page.screenshot({ path: '/tmp/graphiql-subscription.png' });

    expect(recorded.wsSubscriptions).toHaveLength(1);
    expect(recorded.wsSubscriptions[0]).toContain('inventoryChanged');
    expect(recorded.wsConnectionParams).toEqual([{ authorization: 'Bearer test-token' }]);
    expect(websockets).toEqual([`${server!.url.replace('http:', 'ws:')}/graphql`]);
    // The subscription did not go over HTTP.
    expect(recorded.httpOperations.filter((op) => op.operationName !== 'IntrospectionQuery')).toHaveLength(1);
  });

  it('should open the docs explorer and dialogs under the CSP', async () => {
    await page.click('[aria-label="Show Documentation Explorer"]');
    await page.waitForSelector('.graphiql-doc-explorer');
    await expect(page.locator('.graphiql-doc-explorer').textContent()).resolves.toContain('Subscription');
    // Radix dialogs inject <style> elements: this is what needs style-src 'unsafe-inline'.
    await page.click('[aria-label="Open settings dialog"]');
    await page.waitForSelector('[role="dialog"]');
    await page.keyboard.press('Escape');
    await page.waitForSelector('[role="dialog"]', { state: 'detached' });
  });

  it('should have loaded nothing from outside and broken no CSP rule', () => {
    expect(blocked).toEqual([]);
    expect(websockets.every((url) => LOCAL_HOSTS.has(new URL(url).hostname))).toBe(true);
    expect(pageErrors).toEqual([]);
    expect(consoleErrors.filter((text) => /Content Security Policy|Refused to/i.test(text))).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});

describe('createGraphiqlHandler over HTTP', () => {
  const recorded: Recorded = { httpOperations: [], wsConnectionParams: [], wsSubscriptions: [] };
  let server: { url: string; close: () => Promise<void> };
  const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

  beforeAll(async () => {
    server = await startServer(recorded);
  });
  afterAll(async () => {
    await server.close();
  });

  it('should answer browsers only, and pass API clients and ?query= GETs through', async () => {
    const page = await fetch(`${server.url}/graphql`, { headers: { accept: browserAccept } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/connect-src 'self' ws:\/\/127\.0\.0\.1:\d+ wss:\/\/127\.0\.0\.1:\d+/);
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script>(?!<)/); // no inline executable script

    for (const accept of ['application/json', '*/*', 'application/graphql-response+json, application/json;q=0.9', '']) {
      const res = await fetch(`${server.url}/graphql`, { headers: accept ? { accept } : {} });
      expect([accept, res.status]).toEqual([accept, 405]); // reached the GraphQL server
    }
    const withQuery = await fetch(`${server.url}/graphql?query=%7B__typename%7D`, { headers: { accept: browserAccept } });
    expect(withQuery.status).toBe(405);
    const post = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { accept: browserAccept, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ products(first: 1) { edges { node { name } } } }' }),
    });
    expect(await post.json()).toEqual({ data: { products: { edges: [{ node: { name: 'Aurora Desk Lamp' } }] } } });
    expect((await fetch(`${server.url}/graphiql-assets/nope.js`)).status).toBe(404);
  });

  it('should serve versioned assets immutable, compressed, with ETags', async () => {
    const html = await (await fetch(`${server.url}/graphql`, { headers: { accept: browserAccept } })).text();
    const src = /src="(\/graphiql-assets\/graphiql\.min\.js\?v=[^"]+)"/.exec(html)?.[1];
    expect(src).toBeDefined();
    const res = await fetch(`${server.url}${src!}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await res.text()).length).toBeGreaterThan(500_000); // fetch decompressed it
    const etag = res.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await fetch(`${server.url}${src!}`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    const unversioned = await fetch(`${server.url}/graphiql-assets/client.js`);
    expect(unversioned.headers.get('cache-control')).toBe('no-cache');
    expect(await unversioned.text()).toContain('createFetcher');
  });

  it('should tell a browser\'s Accept header from an API client\'s', () => {
    expect(prefersHtml(browserAccept)).toBe(true);
    expect(prefersHtml('text/html')).toBe(true);
    expect(prefersHtml('*/*')).toBe(false);
    expect(prefersHtml(undefined)).toBe(false);
    expect(prefersHtml('application/json, text/html')).toBe(false);
    expect(prefersHtml('text/html;q=0.5, application/json')).toBe(false);
    expect(prefersHtml('text/html, application/json;q=0.9')).toBe(true);
  });
});
