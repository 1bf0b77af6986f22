import { DEMO_CATEGORIES, DEMO_PRODUCTS } from '@shop/catalog';
import type { GraphQLResponse, TestShop } from '../support/harness';
import { errorCode, startTestShop } from '../support/harness';
import type { ProductNode } from './catalog-helpers';
import { allProducts, cents, productsPage } from './catalog-helpers';

/** Names of the demo products in a category's subtree. */
function demoNamesUnder(category: string): string[] {
  const inTree = (c: string): boolean => c === category || DEMO_CATEGORIES.some((d) => d.name === c && d.parent !== undefined && inTree(d.parent));
  return DEMO_PRODUCTS.filter((p) => inTree(p.category)).map((p) => p.name);
}

const names = (nodes: ProductNode[]) => nodes.map((n) => n.name);
const sorted = (xs: string[]) => [...xs].sort();

describe('catalog search, filters, sorts and paging through the gateway', () => {
  let shop: TestShop;
  const byName = new Map<string, ProductNode>();

  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process', seed: true });
    for (const n of await allProducts(shop, { first: 100 })) byName.set(n.name, n);
    // Ratings for the minRating filter and the rating sort: 4.5, 3, 5 and 4.5 (ties on the average).
    const reviews: Array<[string, number[]]> = [
      ['Espresso Machine', [5, 4]],
      ['Electric Kettle', [3]],
      ['Yoga Mat', [5]],
      ['Standing Desk', [4, 5]],
    ];
    for (const [name, ratings] of reviews) {
      for (const rating of ratings) {
        const token = await shop.tokenFor({ roles: ['CUSTOMER'] });
        const res = await shop.gql('mutation ($id: ID!, $r: Int!) { addReview(productId: $id, rating: $r) { id } }', { id: byName.get(name)!.id, r: rating }, token);
        expect(res.errors).toBeUndefined();
      }
    }
  });
  afterAll(async () => {
    await shop?.stop();
  });

  it('should list the 50 demo products with exact prices and currencies', () => {
    expect(byName.size).toBe(DEMO_PRODUCTS.length);
    for (const p of DEMO_PRODUCTS) expect(byName.get(p.name)?.price).toEqual({ amount: p.price, currencyCode: 'USD' });
  });

  it('should find products by name, the best matches first', async () => {
    const headphones = await productsPage(shop, { filter: { search: 'headphones' } });
    expect(sorted(names(headphones.nodes).slice(0, 2))).toEqual(['Studio Monitor Headphones', 'Wireless Noise-Cancelling Headphones']);
    expect((await productsPage(shop, { filter: { search: 'espresso machine' } })).nodes[0]?.name).toBe('Espresso Machine');
    expect((await productsPage(shop, { filter: { search: 'Kafka' } })).nodes[0]?.name).toBe('Kafka: The Definitive Guide');
    // A word in the description only is found too, after the name matches.
    expect(names((await productsPage(shop, { filter: { search: 'bluetooth' } })).nodes)).toEqual(
      expect.arrayContaining(['Portable Bluetooth Speaker', 'Wireless Noise-Cancelling Headphones', 'True Wireless Earbuds']),
    );
    expect((await productsPage(shop, { filter: { search: 'bluetooth' } })).nodes[0]?.name).toBe('Portable Bluetooth Speaker');
  });

  it('should find products despite one typo', async () => {
    const typo = await productsPage(shop, { filter: { search: 'hedphones' } });
    expect(sorted(names(typo.nodes).slice(0, 2))).toEqual(['Studio Monitor Headphones', 'Wireless Noise-Cancelling Headphones']);
    expect((await productsPage(shop, { filter: { search: 'wireless hedphones' } })).nodes[0]?.name).toBe('Wireless Noise-Cancelling Headphones');
    expect((await productsPage(shop, { filter: { search: 'keybaord' } })).nodes[0]?.name).toBe('Mechanical Keyboard');
    expect((await productsPage(shop, { filter: { search: 'expresso' } })).nodes[0]?.name).toBe('Espresso Machine');
  });

  it('should find nothing for gibberish, and treat a blank search as no search', async () => {
    expect(await productsPage(shop, { filter: { search: 'qzxqzx' } })).toMatchObject({ totalCount: 0, nodes: [], hasNextPage: false, endCursor: null });
    expect((await productsPage(shop, { filter: { search: '   ' } })).totalCount).toBe(50);
  });

  it('should filter by category, including its subcategories', async () => {
    const electronics = await allProducts(shop, { filter: { categorySlug: 'electronics' }, first: 100 });
    expect(sorted(names(electronics))).toEqual(sorted(demoNamesUnder('Electronics')));
    expect(electronics.length).toBe(20);
    const audio = await allProducts(shop, { filter: { categorySlug: 'audio' }, first: 100 });
    expect(sorted(names(audio))).toEqual(sorted(demoNamesUnder('Audio')));
    expect((await productsPage(shop, { filter: { categorySlug: 'no-such-category' } })).totalCount).toBe(0);
  });

  it('should filter by price range, bounds included, exactly', async () => {
    const page = await allProducts(shop, { filter: { minPrice: '49.99', maxPrice: '99.99' }, first: 100 });
    const expected = DEMO_PRODUCTS.filter((p) => cents(p.price) >= 4999 && cents(p.price) <= 9999).map((p) => p.name);
    expect(sorted(names(page))).toEqual(sorted(expected));
    expect(names(page)).toEqual(expect.arrayContaining(['Electric Kettle', 'Blender 1200 W'])); // both bounds
  });

  it('should filter by minimum rating', async () => {
    const page = await allProducts(shop, { filter: { minRating: 4.5 }, first: 100 });
    expect(sorted(names(page))).toEqual(['Espresso Machine', 'Standing Desk', 'Yoga Mat']);
    const rated = await allProducts(shop, { filter: { minRating: 1 }, first: 100 });
    expect(rated).toHaveLength(4);
  });

  it('should filter by availability from inventory stock', async () => {
    const outOfStock = DEMO_PRODUCTS.filter((p) => p.stock === 0).map((p) => p.name);
    expect(outOfStock.length).toBeGreaterThan(0);
    const available = await allProducts(shop, { filter: { inStock: true }, first: 100 });
    expect(available).toHaveLength(50 - outOfStock.length);
    expect(names(available)).not.toEqual(expect.arrayContaining(outOfStock));
    expect(sorted(names(await allProducts(shop, { filter: { inStock: false }, first: 100 })))).toEqual(sorted(outOfStock));
  });

  it('should apply every filter and the sort at once', async () => {
    const filter = { search: 'wireless', categorySlug: 'electronics', minPrice: '30', maxPrice: '250', inStock: true };
    const page = await allProducts(shop, { filter, sort: 'PRICE_DESC', first: 2 });
    const expected = DEMO_PRODUCTS.filter(
      (p) => /\bwireless/i.test(`${p.name} ${p.description}`) && demoNamesUnder('Electronics').includes(p.name) && cents(p.price) >= 3000 && cents(p.price) <= 25000 && p.stock > 0,
    ).sort((a, b) => cents(b.price) - cents(a.price));
    expect(expected.length).toBeGreaterThanOrEqual(3);
    expect(names(page)).toEqual(expected.map((p) => p.name));
    expect((await productsPage(shop, { filter, first: 1 })).totalCount).toBe(expected.length);

    const rated = await allProducts(shop, { filter: { categorySlug: 'home', minRating: 3, maxPrice: '460' }, sort: 'RATING_DESC', first: 1 });
    expect(names(rated)).toEqual(['Espresso Machine', 'Electric Kettle']);
  });

  const SORTS: Array<[string, (a: ProductNode, b: ProductNode) => number]> = [
    ['PRICE_ASC', (a, b) => cents(a.price.amount) - cents(b.price.amount)],
    ['PRICE_DESC', (a, b) => cents(b.price.amount) - cents(a.price.amount)],
    ['NEWEST', (a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)],
    ['RATING_DESC', (a, b) => (b.rating ?? 0) - (a.rating ?? 0) || b.reviewCount - a.reviewCount],
    ['RELEVANCE', (a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)], // no search: newest first
  ];

  it.each(SORTS)('should sort by %s and page through every product exactly once, ties included', async (sort, compare) => {
    const all = await allProducts(shop, { sort, first: 7 });
    expect(all).toHaveLength(50);
    expect(new Set(all.map((n) => n.id)).size).toBe(50);
    for (let i = 1; i < all.length; i++) expect(compare(all[i - 1]!, all[i]!)).toBeLessThanOrEqual(0);
    // Paging never changes the order: one page of 50 is the same sequence.
    expect((await productsPage(shop, { sort, first: 50 })).nodes.map((n) => n.id)).toEqual(all.map((n) => n.id));
  });

  it('should rank the rating sort by average then number of reviews, unrated last', async () => {
    const top = (await productsPage(shop, { sort: 'RATING_DESC', first: 5 })).nodes;
    // Standing Desk and Espresso Machine tie (4.5 from 2 reviews each): their order is the id tie-breaker's.
    expect(names(top)[0]).toBe('Yoga Mat');
    expect(sorted(names(top).slice(1, 3))).toEqual(['Espresso Machine', 'Standing Desk']);
    expect(names(top)[3]).toBe('Electric Kettle');
    expect(top[0]!.rating).toBe(5);
    expect(top[4]!.rating).toBeNull();
  });

  it('should page through search results by relevance exactly once', async () => {
    const onePage = (await productsPage(shop, { filter: { search: 'wireless' }, first: 50 })).nodes.map((n) => n.id);
    const paged = (await allProducts(shop, { filter: { search: 'wireless' }, first: 1 })).map((n) => n.id);
    expect(paged).toEqual(onePage);
    expect(onePage.length).toBeGreaterThanOrEqual(5);
  });

  it('should page through a category with its subcategories exactly once', async () => {
    const query = `query ($after: String) { category(slug: "electronics") { products(first: 3, after: $after) { totalCount edges { node { name } } pageInfo { hasNextPage endCursor } } } }`;
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 20; i++) {
      const res: GraphQLResponse<any> = await shop.gql(query, { after });
      expect(res.errors).toBeUndefined();
      const page: { totalCount: number; edges: Array<{ node: { name: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string } } = res.data.category.products;
      expect(page.totalCount).toBe(20);
      seen.push(...page.edges.map((e) => e.node.name));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(20);
    expect(sorted(seen)).toEqual(sorted(demoNamesUnder('Electronics')));
    // The same field on every category at once, with one query.
    const res = await shop.gql('{ categories { slug parent { slug } products(first: 2) { totalCount edges { node { category { slug } } } } } }');
    expect(res.errors).toBeUndefined();
    const counts = Object.fromEntries(res.data.categories.map((c: { slug: string; products: { totalCount: number } }) => [c.slug, c.products.totalCount]));
    expect(counts).toMatchObject({ electronics: 20, audio: 8, home: 12, books: 6 });
    expect(await shop.gql('{ category(slug: "nope") { id } }')).toMatchObject({ data: { category: null } });
  });

  it('should refuse invalid arguments with BAD_USER_INPUT naming the field', async () => {
    const q = 'query ($f: ProductFilter, $s: ProductSort, $n: Int, $a: String) { products(filter: $f, sort: $s, first: $n, after: $a) { totalCount } }';
    const field = async (vars: Record<string, unknown>) => {
      const res = await shop.gql(q, vars);
      expect(errorCode(res)).toBe('BAD_USER_INPUT');
      return res.errors?.[0]?.extensions?.['field'];
    };
    expect(await field({ n: 101 })).toBe('first');
    expect(await field({ n: -1 })).toBe('first');
    expect(await field({ a: 'garbage' })).toBe('after');
    const priceCursor = (await productsPage(shop, { sort: 'PRICE_ASC', first: 1 })).endCursor;
    expect(await field({ s: 'NEWEST', a: priceCursor })).toBe('after');
    expect(await field({ f: { minPrice: '-1' } })).toBe('filter.minPrice');
    expect(await field({ f: { minPrice: '10', maxPrice: '5' } })).toBe('filter.maxPrice');
    expect(await field({ f: { minRating: 7 } })).toBe('filter.minRating');
    expect(await field({ f: { search: 'x'.repeat(201) } })).toBe('filter.search');
  });

  it('should suggest similar products, never the product itself', async () => {
    const res = await shop.gql(`{ products(first: 50) { edges { node { id name similar { id name } none: similar(first: 0) { id } } } } }`);
    expect(res.errors).toBeUndefined();
    for (const { node } of res.data.products.edges) {
      expect(node.similar).toHaveLength(5);
      expect(node.similar.map((s: { id: string }) => s.id)).not.toContain(node.id);
      expect(node.none).toEqual([]);
    }
    const similarTo = (name: string) => res.data.products.edges.find((e: { node: { name: string } }) => e.node.name === name).node.similar.map((s: { name: string }) => s.name);
    expect(similarTo('Studio Monitor Headphones')[0]).toBe('Wireless Noise-Cancelling Headphones');
    expect(similarTo('Ultrabook 14"')[0]).toBe('Gaming Laptop 16"');
    expect(similarTo('Budget Smartphone')[0]).toBe('Smartphone Pro 128 GB');
  });

  it('should expose search latency, result counts and query errors as metrics', async () => {
    const text = await (await fetch(shop.supergraph.services.catalog.url.replace('/graphql', '/metrics'))).text();
    expect(text).toMatch(/catalog_search_duration_seconds_bucket\{[^}]*kind="search"/);
    expect(text).toMatch(/catalog_search_duration_seconds_count\{kind="browse",sort="PRICE_ASC"\} [1-9]/);
    expect(text).toMatch(/catalog_search_results_bucket\{le="0",kind="search"\} [1-9]/);
    expect(text).toMatch(/catalog_query_errors_total\{operation="products",code="BAD_USER_INPUT"\} [1-9]/);
  });
});
