// GraphiQL on the real gateway, in headless Chromium with the network cut off: a subscription typed
// in the explorer goes over graphql-ws on the gateway's /graphql and shows a stock change as it happens.
import { eventually } from '@shop/platform/testing';
import type { OfflineBrowser } from '@shop/platform/testing/browser';
import { launchOfflineChromium, setEditor, waitForResult } from '@shop/platform/testing/browser';
import type { DemoProduct } from '../orders/orders-flow';
import { demoProducts } from '../orders/orders-flow';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import { ADJUST, metricsOf, sample } from './support';

describe('a subscription in GraphiQL (Chromium, offline)', () => {
  let shop: TestShop;
  let offline: OfflineBrowser;
  let product: DemoProduct;
  beforeAll(async () => {
    shop = await startTestShop({ seed: true });
    product = (await demoProducts(shop))[0]!;
    offline = await launchOfflineChromium();
  }, 90_000);
  afterAll(async () => {
    await offline?.close();
    await shop?.stop();
  });

  it('should show a stock change with its catalog product name', async () => {
    const admin = await shop.tokenFor({ roles: ['ADMIN'] });
    const { page } = offline;
    expect((await page.goto(shop.url, { waitUntil: 'load' }))?.status()).toBe(200);
    await page.waitForSelector('.graphiql-container');
    // Signed in like a user pasting a token: it goes to the gateway in connection_init.
    await setEditor(page, '.graphiql-editor-tool .graphiql-editor:not(.hidden)', JSON.stringify({ Authorization: `Bearer ${admin}` }));
    await setEditor(page, '.graphiql-query-editor', `subscription {\n  stockChanged(productIds: ["${product.id}"]) {\n    available\n    product {\n      name\n    }\n  }\n}\n`);
    await page.click('.graphiql-execute-button');
    await eventually(async () => sample(await metricsOf(shop, 'inventory'), 'subgraph_subscriptions_active', { service: 'inventory', field: 'stockChanged' }) === 1, 15_000);

    const res = await shop.gql(ADJUST, { id: product.id, delta: 4 }, admin);
    expect(res.errors).toBeUndefined();
    const result = await waitForResult(page, `"available": ${product.available + 4}`, 15_000);
    expect(result).toContain(`"name": ${JSON.stringify(product.name)}`);
    await page.screenshot({ path: '/tmp/graphiql-subscription-gateway.png' });
    expect(offline.websockets).toEqual([shop.url.replace('http:', 'ws:')]);
    expect(offline.blocked).toEqual([]);
    expect(offline.pageErrors).toEqual([]);
  });
});
