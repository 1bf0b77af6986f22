import type { EntitySubscriberInterface } from 'typeorm';
import { eventually } from '@shop/platform/testing';
import { Client } from 'pg';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';

/** A storefront listing: each product with its category (and the category's parent), rating, reviews, similar and bought-together products and stock, with the facets of the filter sidebar. */
const LISTING = `query ($n: Int, $search: String) {
  products(first: $n, filter: { search: $search }, sort: PRICE_ASC) {
    totalCount
    edges { node {
      id name price { amount currencyCode } rating reviewCount
      category { id name parent { name } }
      reviews(first: 2) { totalCount edges { node { rating author { id } } } }
      similar(first: 3) { id name }
      frequentlyBoughtTogether(first: 3) { id name }
      inventory { available }
    } }
    facets { categories { category { name } count } priceRanges { min max count } ratings { minRating count } inStock }
  }
}`;

describe('SQL queries behind a page of products (DataLoader batching)', () => {
  let shop: TestShop;
  const statements: string[] = [];
  // Counts the catalog's own SQL on its data source (the outbox relay and health checks do not touch these tables).
  const DOMAIN_TABLES = /\b(product|category|review|search_term|product_availability|similar_cache|bought_together)\b/;
  const counter: EntitySubscriberInterface = { beforeQuery: (event) => void (DOMAIN_TABLES.test(event.query) && statements.push(event.query)) };

  const countFor = async (variables: Record<string, unknown>): Promise<{ queries: number; items: number }> => {
    statements.length = 0;
    const res = await shop.gql(LISTING, variables);
    expect(res.errors).toBeUndefined();
    return { queries: statements.length, items: res.data.products.edges.length };
  };

  beforeAll(async () => {
    // The catalog's own statements per page: the gateway's entity cache (which would answer repeats) is off.
    shop = await startTestShop({ bus: 'in-process', seed: true, gateway: { cache: { enabled: false } } });
    // Let inventory's 50 opening stock events reach the catalog first: their handler writes product_availability.
    const db = new Client({ connectionString: shop.databaseUrl('catalog') });
    await db.connect();
    await eventually(async () => (await db.query('SELECT count(*)::int AS n FROM product_availability WHERE version >= 1')).rows[0].n === 50, 30_000);
    await db.end();
    // Some reviews, so that the reviews field has rows to load.
    const { data } = await shop.gql('{ products(first: 50) { edges { node { id } } } }');
    for (const { node } of data.products.edges.slice(0, 30)) {
      await shop.gql('mutation ($id: ID!) { addReview(productId: $id, rating: 4) { id } }', { id: node.id }, await shop.tokenFor({ roles: ['CUSTOMER'] }));
    }
    (shop.supergraph.services.catalog.deps.dataSource.subscribers as EntitySubscriberInterface[]).push(counter);
  });
  afterAll(async () => {
    await shop?.stop();
  });

  it('should run the same small number of SQL queries for 5, 20 and 50 products', async () => {
    // Similar products are computed once per product, then read from similar_cache: warm it first.
    await countFor({ n: 50 });
    const five = await countFor({ n: 5 });
    const twenty = await countFor({ n: 20 });
    const fifty = await countFor({ n: 50 });
    expect([five.items, twenty.items, fifty.items]).toEqual([5, 20, 50]);
    // page, facets (with their categories; totalCount is their total), categories, parent
    // categories, reviews, similar products (cached), bought together: one query each.
    expect(twenty.queries).toBe(7);
    expect(five.queries).toBe(twenty.queries);
    expect(fifty.queries).toBe(twenty.queries);
  });

  it('should add two queries (compute and store) for similar products not cached yet, whatever the page size', async () => {
    const db = new Client({ connectionString: shop.databaseUrl('catalog') });
    await db.connect();
    try {
      await db.query('DELETE FROM similar_cache');
      const twenty = await countFor({ n: 20 });
      await db.query('DELETE FROM similar_cache');
      const fifty = await countFor({ n: 50 });
      expect(twenty.queries).toBe(9);
      expect(fifty.queries).toBe(twenty.queries);
      expect((await db.query('SELECT count(*)::int AS n FROM similar_cache')).rows[0].n).toBe(50);
    } finally {
      await db.end();
    }
  });

  it('should add exactly one query (spelling correction) for a search, whatever the page size', async () => {
    const two = await countFor({ n: 2, search: 'wireless' });
    const five = await countFor({ n: 5, search: 'wireless' });
    expect([two.items, five.items]).toEqual([2, 5]);
    expect(two.queries).toBe(8);
    expect(five.queries).toBe(two.queries);
  });

  it('should count with one statement of its own when the facets are not asked for', async () => {
    statements.length = 0;
    const res = await shop.gql('{ products(first: 5) { totalCount edges { node { id } } } }');
    expect(res.errors).toBeUndefined();
    expect(res.data.products.totalCount).toBe(50);
    expect(statements).toHaveLength(2);
    expect(statements[1]).toMatch(/count\(\*\)/);
  });

  it('should batch every category listing into a constant number of queries', async () => {
    statements.length = 0;
    const res = await shop.gql('{ categories { name children { name } products(first: 3) { totalCount edges { node { name category { name } } } } } }');
    expect(res.errors).toBeUndefined();
    expect(res.data.categories).toHaveLength(11);
    // categories, children, products per category, counts per category (categories of the products are cached).
    expect(statements).toHaveLength(4);
  });
});
