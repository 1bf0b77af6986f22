/**
 * GraphiQL on a gateway that requires persisted operations, in Chromium with the network cut off:
 * the explorer still loads the schema (introspection is let through), runs a listed operation
 * pasted as its text, and shows PERSISTED_QUERY_NOT_LISTED for anything else.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { OfflineBrowser } from '@shop/platform/testing/browser';
import { launchOfflineChromium, openGraphiql, setEditor, waitForResult } from '@shop/platform/testing/browser';
import { buildManifest } from '../src/persisted-manifest';
import type { Fixture } from './subscriptions.fixture';
import { startFixture } from './subscriptions.fixture';

const LISTED = 'query ProductName {\n  product(id: "17") {\n    name\n  }\n}';

describe('GraphiQL with the safelist required', () => {
  let fixture: Fixture;
  let offline: OfflineBrowser;

  beforeAll(async () => {
    const manifest = buildManifest([{ name: 'graphiql.graphql', text: LISTED }]);
    expect(manifest.operations[0]?.body).toBe(LISTED); // printed as typed, so the pasted text is the listed one
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'safelist-ui-')), 'manifest.json');
    writeFileSync(file, JSON.stringify(manifest));
    fixture = await startFixture({}, { persistedOperations: { mode: 'require', manifest: file } });
    offline = await launchOfflineChromium();
  }, 90_000);
  afterAll(async () => {
    await offline?.close();
    await fixture?.stop();
  });

  it('should load the schema, run a listed operation and show why an unlisted one is refused', async () => {
    const { page } = offline;
    expect(await openGraphiql(page, fixture.gateway.url)).toBe(200);
    await setEditor(page, '.graphiql-query-editor', LISTED);
    await page.click('.graphiql-execute-button');
    expect(await waitForResult(page, '"name": "Product 17"')).toContain('"product"');
    // Same operation name, other text: GraphiQL may send the name it had before it re-reads the
    // editor, and either way only the safelist can refuse this one.
    await setEditor(page, '.graphiql-query-editor', 'query ProductName {\n  product(id: "18") {\n    id\n  }\n}');
    await page.click('.graphiql-execute-button');
    await waitForResult(page, 'PERSISTED_QUERY_NOT_LISTED');
    // The schema came through introspection: the docs explorer lists the root types.
    await page.click('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]');
    await page.waitForSelector('.graphiql-doc-explorer >> text=Query');
    expect(offline.blocked).toEqual([]);
    expect(offline.pageErrors).toEqual([]);
  });
});
