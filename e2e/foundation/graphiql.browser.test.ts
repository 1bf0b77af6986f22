import * as path from 'node:path';
import type { OfflineBrowser } from '@shop/platform/testing/browser';
import { launchOfflineChromium, openGraphiql, waitForResult } from '@shop/platform/testing/browser';
import { eventually } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';

describe('GraphiQL on the real gateway, in Chromium with the network cut off', () => {
  let shop: TestShop;
  let offline: OfflineBrowser;
  beforeAll(async () => {
    shop = await startTestShop({ seed: true });
    offline = await launchOfflineChromium();
  }, 60_000);
  afterAll(async () => {
    await offline?.close();
    await shop?.stop();
  });

  it('should load the explorer, run the demo query and show products with prices and stock from two subgraphs', async () => {
    // The product names the gateway returns for the default query (stock records open asynchronously).
    const expected = await eventually(async () => {
      const r = await shop.gql('{ products(first: 3) { edges { node { name inventory { available } } } } }');
      const nodes: Array<{ name: string; inventory: { available: number } }> = r.data?.products.edges.map((e: any) => e.node) ?? [];
      return nodes.some((n) => n.inventory.available > 0) ? nodes : null;
    }, 30_000);
    const { page } = offline;
    expect(await openGraphiql(page, shop.url)).toBe(200);
    await page.click('.graphiql-execute-button');
    const result = await waitForResult(page, expected[0]!.name.replace(/"/g, '\\"'));
    for (const node of expected) expect(result).toContain(JSON.stringify(node.name).slice(1, -1));
    expect(result).toContain('"currencyCode": "USD"');
    expect(result).toContain('"available"');
    await page.screenshot({ path: path.join(__dirname, '..', '..', 'tmp', 'graphiql-gateway.png') }); // inside the checkout, not a shared /tmp
    expect(offline.blocked).toEqual([]);
    expect(offline.pageErrors).toEqual([]);
  });
});
