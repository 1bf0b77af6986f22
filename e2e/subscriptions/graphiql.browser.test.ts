// GraphiQL on the real gateway, in headless Chromium with the network cut off: the page loads with
// the explorer open and the Authorization hint, a query runs, and a subscription typed in the editor
// goes over graphql-ws on the gateway's /graphql, shows "subscribed, waiting for events", then keeps
// a log of every stock change (each with its time) while the response pane shows the latest.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { eventually } from '@shop/platform/testing';
import type { OfflineBrowser } from '@shop/platform/testing/browser';
import { HEADERS_EDITOR, SUBSCRIPTION_LOG, SUBSCRIPTION_LOG_EVENTS, SUBSCRIPTION_LOG_STATUS, editorHasInPage, launchOfflineChromium, openGraphiql, setEditor, shownText, waitForResult } from '@shop/platform/testing/browser';
import type { DemoProduct } from '../orders/orders-flow';
import { demoProducts } from '../orders/orders-flow';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import { ADJUST, metricsOf, sample } from './support';

// Screenshots for a human to look at, inside the checkout (never a shared /tmp).
const SCREENSHOTS = path.join(__dirname, '..', '..', 'tmp');
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

interface LoggedEvent {
  n: string | null | undefined;
  time: string | null | undefined;
  payload: { data?: { stockChanged?: { available: number; product: { name: string } } } };
}

/** The events of the subscription log, as shown. */
function loggedEvents(page: Page): Promise<LoggedEvent[]> {
  return page.locator(SUBSCRIPTION_LOG_EVENTS).evaluateAll((items) =>
    items.map((item) => {
      const element = item as unknown as { querySelector(s: string): { textContent: string | null } | null };
      return {
        n: element.querySelector('.shop-subscription-log-n')?.textContent,
        time: element.querySelector('time')?.textContent,
        payload: JSON.parse(element.querySelector('pre')?.textContent ?? 'null') as LoggedEvent['payload'],
      };
    }),
  );
}

describe('GraphiQL on the gateway (Chromium, offline)', () => {
  let shop: TestShop;
  let offline: OfflineBrowser;
  let product: DemoProduct;
  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    shop = await startTestShop({ seed: true });
    product = (await demoProducts(shop))[0]!;
    offline = await launchOfflineChromium();
  }, 120_000);
  afterAll(async () => {
    await offline?.close();
    await shop?.stop();
  });

  it('should load offline with the explorer open and the Authorization hint, and run a query', async () => {
    const { page } = offline;
    expect(await openGraphiql(page, shop.url)).toBe(200);
    await page.waitForSelector('.graphiql-plugin .graphiql-explorer-root', { timeout: 30_000 });
    // The explorer lists the supergraph's root fields once the schema is introspected.
    await page.waitForSelector('.graphiql-explorer-root >> text=products', { timeout: 30_000 });
    await page.waitForFunction(editorHasInPage, { selector: HEADERS_EDITOR, needle: '"Authorization": "Bearer <token>"', exact: false });
    expect(await shownText(page, HEADERS_EDITOR)).toContain('"Authorization": "Bearer <token>"');

    await setEditor(page, '.graphiql-query-editor', `{\n  product(id: "${product.id}") {\n    name\n    inventory {\n      available\n    }\n  }\n}\n`);
    await page.click('.graphiql-execute-button');
    const result = await waitForResult(page, `"name": ${JSON.stringify(product.name)}`, 30_000);
    expect(result).toContain(`"available": ${product.available}`);
    expect(await page.locator(SUBSCRIPTION_LOG).count()).toBe(0); // no subscription, no log
  });

  it('should show "waiting for events", then a log of every stock change a mutation makes', async () => {
    const admin = await shop.tokenFor({ roles: ['ADMIN'] });
    const { page } = offline;
    // Signed in like a user pasting a token: it goes to the gateway in connection_init.
    await setEditor(page, HEADERS_EDITOR, JSON.stringify({ Authorization: `Bearer ${admin}` }));
    await setEditor(page, '.graphiql-query-editor', `subscription Stock {\n  stockChanged(productIds: ["${product.id}"]) {\n    available\n    product {\n      name\n    }\n  }\n}\n`);
    await page.click('.graphiql-execute-button');
    await page.waitForSelector(`${SUBSCRIPTION_LOG}[data-status="waiting"]`, { timeout: 30_000 });
    expect(await shownText(page, SUBSCRIPTION_LOG_STATUS)).toBe('Subscription Stock: subscribed, waiting for events…');
    await eventually(async () => sample(await metricsOf(shop, 'inventory'), 'subgraph_subscriptions_active', { service: 'inventory', field: 'stockChanged' }) === 1, 30_000);
    expect(await page.locator(SUBSCRIPTION_LOG_EVENTS).count()).toBe(0);

    // Two stock changes, one after the other: each one is a new line of the log.
    expect((await shop.gql(ADJUST, { id: product.id, delta: 4 }, admin)).errors).toBeUndefined();
    await page.waitForSelector(`${SUBSCRIPTION_LOG_EVENTS} >> nth=0`, { timeout: 30_000 });
    expect((await shop.gql(ADJUST, { id: product.id, delta: -1 }, admin)).errors).toBeUndefined();
    await page.waitForSelector(`${SUBSCRIPTION_LOG_EVENTS} >> nth=1`, { timeout: 30_000 });
    expect(await shownText(page, SUBSCRIPTION_LOG_STATUS)).toBe('Subscription Stock: subscribed, 2 events received');

    const events = await loggedEvents(page);
    expect(events.map(({ n, payload }) => [n, payload.data?.stockChanged])).toEqual([
      ['#1', { available: product.available + 4, product: { name: product.name } }],
      ['#2', { available: product.available + 3, product: { name: product.name } }],
    ]);
    for (const { time } of events) expect(time).toMatch(/^\d\d:\d\d:\d\d\.\d\d\d$/);
    // The response pane shows the latest event.
    await waitForResult(page, `"available": ${product.available + 3}`, 30_000);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'graphiql-subscription-gateway.png') });

    // GraphiQL's run button stops it; the log keeps what came and says so.
    await page.click('.graphiql-execute-button');
    await page.waitForSelector(`${SUBSCRIPTION_LOG}[data-status="stopped"]`);
    expect(await shownText(page, SUBSCRIPTION_LOG_STATUS)).toBe('Subscription Stock: stopped after 2 events');
    expect(await page.locator(SUBSCRIPTION_LOG_EVENTS).count()).toBe(2);

    expect(offline.websockets).toEqual([shop.url.replace('http:', 'ws:')]);
    expect(offline.blocked).toEqual([]);
    expect(offline.pageErrors).toEqual([]);
  });

  it('should serve the assets with their content hash, immutable, compressed, with ETags', async () => {
    const html = await (await fetch(shop.url, { headers: { accept: BROWSER_ACCEPT } })).text();
    const urls = [...html.matchAll(/(?:src|href)="(\/graphiql-assets\/[^"?]+\?v=([\w-]+))"/g)].map((m) => ({ url: m[1]!, version: m[2]! }));
    expect(urls.map(({ url }) => url.replace(/\?.*/, '')).sort()).toEqual(['/graphiql-assets/graphiql.css', '/graphiql-assets/graphiql.js']);
    for (const { url, version } of urls) {
      const res = await fetch(`${shop.url.replace(/\/graphql$/, '')}${url}`, { headers: { 'accept-encoding': 'br' } });
      expect([url, res.status, res.headers.get('content-encoding'), res.headers.get('cache-control'), res.headers.get('etag')]).toEqual([
        url,
        200,
        'br',
        'public, max-age=31536000, immutable',
        `"${version}"`,
      ]);
      const body = Buffer.from(await res.arrayBuffer());
      expect(createHash('sha256').update(body).digest('base64url').slice(0, 16)).toBe(version);
      const again = await fetch(`${shop.url.replace(/\/graphql$/, '')}${url}`, { headers: { 'if-none-match': `"${version}"` } });
      expect(again.status).toBe(304);
    }
  });
});
