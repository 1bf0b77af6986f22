// Drives the self-hosted GraphiQL 5 explorer in a real (Debian) Chromium through playwright-core,
// against a real HTTP GraphQL endpoint and a real graphql-ws server on the same path, with the
// network cut off: any request to a host other than 127.0.0.1/localhost is aborted, recorded and
// fails the test. Needs /usr/bin/chromium (scripts/ensure-chromium.sh); fails, not skips, without it.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildSchema, graphql } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { Page } from 'playwright-core';
import type { OfflineBrowser } from '@shop/platform/testing/browser';
import { eventually } from '@shop/platform/testing';
import { HEADERS_EDITOR, SUBSCRIPTION_LOG, SUBSCRIPTION_LOG_EVENTS, SUBSCRIPTION_LOG_STATUS, editorHasInPage, editorValueInPage, launchOfflineChromium, openGraphiql, setEditor, shownText, waitForResult } from '@shop/platform/testing/browser';
import { WebSocketServer } from 'ws';
import { createGraphiqlHandler, prefersHtml } from '../src/graphiql/graphiql';

// Screenshots for a human to look at, inside the checkout (never a shared /tmp).
const SCREENSHOTS = path.join(__dirname, '..', '..', 'tmp');
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

const schema = buildSchema(`
  type Query { products(first: Int = 10): ProductConnection! }
  type ProductConnection { edges: [ProductEdge!]! }
  type ProductEdge { node: Product! }
  type Product { name: String! price: Money! inventory: Inventory! }
  type Money { amount: Float! currencyCode: String! }
  type Inventory { available: Int! }
  type Subscription {
    inventoryChanged(count: Int = 2): InventoryEvent!
    "Events pushed by the test (ticks.push), ended by it (ticks.end)."
    ticks: Tick!
    "Refused when subscribing."
    forbidden: Tick!
  }
  type InventoryEvent { seq: Int! sku: String! available: Int! }
  type Tick { n: Int! }
`);

/** A subscription the test drives: events only when it pushes one, the end when it says so. */
class Channel<T> {
  private readonly queue: Array<T | typeof Channel.END> = [];
  private wake: (() => void) | undefined;
  private static readonly END = Symbol('end');
  push(value: T): void {
    this.queue.push(value);
    this.wake?.();
  }
  end(): void {
    this.queue.push(Channel.END);
    this.wake?.();
  }
  async *stream(): AsyncGenerator<T> {
    for (;;) {
      while (this.queue.length === 0) await new Promise<void>((resolve) => (this.wake = resolve));
      const next = this.queue.shift()!;
      if (next === Channel.END) return;
      yield next;
    }
  }
}
const ticks = new Channel<number>();

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
  ticks: async function* () {
    for await (const n of ticks.stream()) yield { ticks: { n } };
  },
  forbidden: () => {
    throw new Error('not allowed here');
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
    mkdirSync(SCREENSHOTS, { recursive: true });
    server = await startServer(recorded);
    offline = await launchOfflineChromium();
    ({ page, blocked, websockets, consoleErrors, pageErrors } = offline);
  }, 30_000);

  afterAll(async () => {
    await offline?.close();
    await server?.close();
  });

  it('should serve the explorer page with the explorer open, the Authorization hint, and run the default query over HTTP', async () => {
    expect(await openGraphiql(page, `${server!.url}/graphql`)).toBe(200);
    expect(await page.title()).toBe('Shop supergraph');

    // The explorer plugin is open, with the schema's root fields to click.
    await page.waitForSelector('.graphiql-plugin .graphiql-explorer-root', { timeout: 30_000 });
    await page.waitForSelector('.graphiql-explorer-root >> text=products');

    // The Headers tab (open by default) shows how to send a token, without sending one.
    await page.waitForFunction(editorHasInPage, { selector: HEADERS_EDITOR, needle: '"Authorization": "Bearer <token>"', exact: false });
    expect(await shownText(page, HEADERS_EDITOR)).toContain('"Authorization": "Bearer <token>"');

    const defaultQuery = await page.evaluate(editorValueInPage, '.graphiql-query-editor');
    expect(defaultQuery.replace(/\s+/g, ' ')).toContain('products(first: 3) { edges { node { name price { amount currencyCode } inventory { available } } } }');

    // Run it as it is: the commented hint sends no Authorization header.
    await page.click('.graphiql-execute-button');
    await waitForResult(page, 'Cirrus Wool Throw');
    expect(recorded.httpOperations.find((op) => op.operationName !== 'IntrospectionQuery')).toEqual({ operationName: undefined, authorization: undefined });

    // Like a user pasting a token into the headers editor.
    await setEditor(page, HEADERS_EDITOR, '{"Authorization": "Bearer test-token"}');
    await setEditor(page, '.graphiql-query-editor', '{ products(first: 3) { edges { node { name price { currencyCode } } } } }');
    await page.click('.graphiql-execute-button');
    const result = await waitForResult(page, '"currencyCode": "EUR"');
    expect(result).toContain('Aurora Desk Lamp');
    expect(result).toContain('Basalt Coffee Mug');
    expect(result).toContain('Cirrus Wool Throw');
    expect(result).not.toContain('Dune Notebook'); // first: 3
    // What the user sees, not just the editor model:
    expect(await shownText(page, '.graphiql-response')).toContain('Aurora Desk Lamp');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'graphiql.png') });

    const runs = recorded.httpOperations.filter((op) => op.operationName !== 'IntrospectionQuery');
    expect(runs).toEqual([
      { operationName: undefined, authorization: undefined },
      { operationName: undefined, authorization: 'Bearer test-token' },
    ]);
    // A query shows no subscription log.
    expect(await page.locator(SUBSCRIPTION_LOG).count()).toBe(0);
  });

  it('should run a subscription over graphql-ws with the headers as connection_init payload', async () => {
    await setEditor(page, '.graphiql-query-editor', 'subscription {\n  inventoryChanged(count: 2) {\n    seq\n    sku\n    available\n  }\n}\n');
    await page.click('.graphiql-execute-button');
    const result = await waitForResult(page, '"sku": "sku-2"');
    expect(result).toContain('"seq": 2');
    expect(result).toContain('"available": 98');

    expect(recorded.wsSubscriptions).toHaveLength(1);
    expect(recorded.wsSubscriptions[0]).toContain('inventoryChanged');
    expect(recorded.wsConnectionParams).toEqual([{ authorization: 'Bearer test-token' }]);
    expect(websockets).toEqual([`${server!.url.replace('http:', 'ws:')}/graphql`]);
    // The subscription did not go over HTTP.
    expect(recorded.httpOperations.filter((op) => op.operationName !== 'IntrospectionQuery')).toHaveLength(2);
    // Both events are in the log, and the server's end of the stream is shown.
    await page.waitForSelector(`${SUBSCRIPTION_LOG}[data-status="ended"]`);
    expect(await shownText(page, SUBSCRIPTION_LOG_STATUS)).toBe('Subscription inventoryChanged: ended by the server after 2 events');
    expect(await page.locator(SUBSCRIPTION_LOG_EVENTS).count()).toBe(2);
  });

  it('should show "waiting for events", then log every event with its time, then the end', async () => {
    await setEditor(page, '.graphiql-query-editor', 'subscription Ticks {\n  ticks {\n    n\n  }\n}\n');
    await page.click('.graphiql-execute-button');
    await page.waitForSelector(`${SUBSCRIPTION_LOG}[data-status="waiting"]`);
    expect(await shownText(page, SUBSCRIPTION_LOG_STATUS)).toBe('Subscription Ticks: subscribed, waiting for events…');
    expect(await page.locator(SUBSCRIPTION_LOG_EVENTS).count()).toBe(0);
    // The server has the subscription before the test pushes anything.
    await eventually(async () => recorded.wsSubscriptions.some((query) => query.includes('ticks')), 15_000);

    ticks.push(1);
    await page.waitForSelector(`${SUBSCRIPTION_LOG_EVENTS} >> nth=0`);
    expect(await shownText(page, SUBSCRIPTION_LOG_STATUS)).toBe('Subscription Ticks: subscribed, 1 event received');
    ticks.push(2);
    await page.waitForSelector(`${SUBSCRIPTION_LOG_EVENTS} >> nth=1`);
    expect(await shownText(page, SUBSCRIPTION_LOG_STATUS)).toBe('Subscription Ticks: subscribed, 2 events received');

    const events = await page.locator(SUBSCRIPTION_LOG_EVENTS).evaluateAll((items) =>
      items.map((item) => {
        const element = item as unknown as { querySelector(s: string): { textContent: string | null; getAttribute(a: string): string | null } | null };
        return {
          n: element.querySelector('.shop-subscription-log-n')?.textContent,
          time: element.querySelector('time')?.textContent,
          at: element.querySelector('time')?.getAttribute('datetime'),
          payload: JSON.parse(element.querySelector('pre')?.textContent ?? 'null') as unknown,
        };
      }),
    );
    expect(events.map(({ n, payload }) => ({ n, payload }))).toEqual([
      { n: '#1', payload: { data: { ticks: { n: 1 } } } },
      { n: '#2', payload: { data: { ticks: { n: 2 } } } },
    ]);
    for (const { time, at } of events) {
      expect(time).toMatch(/^\d\d:\d\d:\d\d\.\d\d\d$/);
      expect(Math.abs(Date.now() - Date.parse(at!))).toBeLessThan(10 * 60_000);
    }
    // The response pane still shows the latest event.
    await waitForResult(page, '"n": 2');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'graphiql-subscription-log.png') });

    ticks.end();
    await page.waitForSelector(`${SUBSCRIPTION_LOG}[data-status="ended"]`);
    expect(await shownText(page, SUBSCRIPTION_LOG_STATUS)).toBe('Subscription Ticks: ended by the server after 2 events');
    expect(await page.locator(SUBSCRIPTION_LOG_EVENTS).count()).toBe(2);
  });

  it('should show a stop by the user, and a refused subscription as an error', async () => {
    // Stop: GraphiQL's run button turns into a stop button while the subscription runs.
    await setEditor(page, '.graphiql-query-editor', 'subscription Ticks {\n  ticks {\n    n\n  }\n}\n');
    await page.click('.graphiql-execute-button');
    await page.waitForSelector(`${SUBSCRIPTION_LOG}[data-status="waiting"]`);
    expect(await page.locator(SUBSCRIPTION_LOG_EVENTS).count()).toBe(0); // a new run starts a new log
    ticks.push(3);
    await page.waitForSelector(`${SUBSCRIPTION_LOG}[data-status="receiving"]`);
    await page.click('.graphiql-execute-button');
    await page.waitForSelector(`${SUBSCRIPTION_LOG}[data-status="stopped"]`);
    expect(await shownText(page, SUBSCRIPTION_LOG_STATUS)).toBe('Subscription Ticks: stopped after 1 event');

    await setEditor(page, '.graphiql-query-editor', 'subscription {\n  forbidden {\n    n\n  }\n}\n');
    await page.click('.graphiql-execute-button');
    await page.waitForSelector(`${SUBSCRIPTION_LOG}[data-status="error"]`);
    expect(await shownText(page, SUBSCRIPTION_LOG_STATUS)).toBe('Subscription forbidden: failed after 0 events');
    expect(await shownText(page, `${SUBSCRIPTION_LOG} .shop-subscription-log-error`)).toContain('not allowed here');
    await waitForResult(page, 'not allowed here');
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
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("worker-src 'self';"); // Monaco's workers, from the gateway
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
    const src = /src="(\/graphiql-assets\/graphiql\.js\?v=([\w-]+))"/.exec(html);
    const href = /href="(\/graphiql-assets\/graphiql\.css\?v=[\w-]+)"/.exec(html)?.[1];
    expect(src).not.toBeNull();
    expect(href).toBeDefined();
    const res = await fetch(`${server.url}${src![1]!}`, { headers: { 'accept-encoding': 'br, gzip' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('content-encoding')).toBe('br');
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const body = Buffer.from(await res.arrayBuffer()); // fetch decompressed it
    expect(body.length).toBeGreaterThan(1_000_000); // GraphiQL, React, Monaco: bundled, not fetched from a CDN
    // The version in the URL is the content's hash.
    expect(createHash('sha256').update(body).digest('base64url').slice(0, 16)).toBe(src![2]);
    const etag = res.headers.get('etag');
    expect(etag).toBe(`"${src![2]!}"`);
    const again = await fetch(`${server.url}${src![1]!}`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    const gzip = await fetch(`${server.url}${src![1]!}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(gzip.headers.get('content-encoding')).toBe('gzip');
    expect(Buffer.from(await gzip.arrayBuffer()).equals(body)).toBe(true);

    // The stylesheet refers to Monaco's font by a content-hashed name: immutable without ?v=.
    const css = await (await fetch(`${server.url}${href!}`)).text();
    const font = /url\("?\.\/(codicon-[\w-]+\.ttf)"?\)/.exec(css)?.[1];
    expect(font).toBeDefined();
    const fontRes = await fetch(`${server.url}/graphiql-assets/${font!}`);
    expect([fontRes.status, fontRes.headers.get('content-type'), fontRes.headers.get('cache-control')]).toEqual([200, 'font/ttf', 'public, max-age=31536000, immutable']);

    // Monaco's workers: versioned URLs in the page's configuration, served by the gateway.
    const config = JSON.parse(/<script type="application\/json" id="graphiql-config">(.*?)<\/script>/s.exec(html)![1]!) as { workers: Record<string, string> };
    expect(Object.keys(config.workers).sort()).toEqual(['editor', 'graphql', 'json']);
    for (const url of Object.values(config.workers)) {
      const worker = await fetch(`${server.url}${url}`);
      expect([url, worker.status, worker.headers.get('content-type'), worker.headers.get('cache-control')]).toEqual([url, 200, 'text/javascript; charset=utf-8', 'public, max-age=31536000, immutable']);
    }

    // Without the version (or with another one) the browser must revalidate.
    for (const url of ['/graphiql-assets/graphiql.js', '/graphiql-assets/graphiql.js?v=old']) {
      const unversioned = await fetch(`${server.url}${url}`);
      expect([url, unversioned.status, unversioned.headers.get('cache-control')]).toEqual([url, 200, 'no-cache']);
    }
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
