/**
 * Discovery through the gateway (issue 21): suggestions as you type (with a typo), facet counts
 * that add up to totalCount, bought together from confirmed orders (and gone for a deleted
 * product), recommendations for a new customer and for one with orders.
 */
import { randomUUID } from 'node:crypto';
import { eventually } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import { demoProducts, placePendingOrder, waitForStatus } from '../orders/orders-flow';
import type { DemoProduct } from '../orders/orders-flow';

const MAX_PRICE = '9999999999.99';
const SUGGEST = `query ($prefix: String!, $first: Int) { searchSuggestions(prefix: $prefix, first: $first) { text product { id name } category { slug name } } }`;
const FACETS = `query ($filter: ProductFilter) { products(filter: $filter, first: 3) {
  totalCount
  edges { node { id } }
  facets { categories { category { slug } count } priceRanges { min max count } ratings { minRating count } inStock }
} }`;
const TOGETHER = `query ($id: ID!) { product(id: $id) { id frequentlyBoughtTogether(first: 20) { id } } }`;
const RECOMMENDED = `query ($first: Int) { me { id recommendedProducts(first: $first) { id name category { slug } } } }`;

describe('discovery through the gateway', () => {
  let shop: TestShop;
  let admin: string;
  let products: DemoProduct[];
  let bestSeller = '';

  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process', seed: true });
    admin = await shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] });
    products = await demoProducts(shop, 20);
  });
  afterAll(async () => {
    await shop?.stop();
  });

  const gqlOk = async (query: string, variables: Record<string, unknown> = {}, token?: string) => {
    const res = await shop.gql(query, variables, token);
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    return res.data;
  };
  const confirmedOrder = async (token: string, items: Array<{ productId: string; quantity: number }>) => {
    const order = await placePendingOrder(shop, items, token);
    await waitForStatus(shop, order.id, 'CONFIRMED', token);
    return order;
  };
  /** A registered customer (recommendations go through `me`, which the users service answers). */
  const register = async (): Promise<{ token: string; id: string }> => {
    const suffix = randomUUID().slice(0, 8);
    const data = await gqlOk(`mutation($input: RegisterInput!) { register(input: $input) { accessToken user { id } } }`, {
      input: { email: `discovery-${suffix}@example.com`, username: `discovery_${suffix}`, password: 'Correct-Horse-Battery-9' },
    });
    return { token: data.register.accessToken, id: data.register.user.id };
  };
  const together = async (id: string): Promise<string[]> => (await gqlOk(TOGETHER, { id })).product.frequentlyBoughtTogether.map((p: { id: string }) => p.id);

  describe('searchSuggestions', () => {
    it('should suggest products whose name has a word starting with the prefix, and categories', async () => {
      const { searchSuggestions } = await gqlOk(SUGGEST, { prefix: 'headph' });
      const names = searchSuggestions.filter((s: any) => s.product).map((s: any) => s.product.name as string);
      expect(names).toEqual(expect.arrayContaining(['Wireless Noise-Cancelling Headphones', 'Studio Monitor Headphones']));
      for (const n of names) expect(n.toLowerCase()).toContain('headph');
      for (const s of searchSuggestions) expect(s.text).toBe(s.product?.name ?? s.category?.name);

      const audio = await gqlOk(SUGGEST, { prefix: 'aud' });
      expect(audio.searchSuggestions[0]).toEqual({ text: 'Audio', product: null, category: { slug: 'audio', name: 'Audio' } });
    });

    it('should still suggest when the prefix has a typo', async () => {
      const { searchSuggestions } = await gqlOk(SUGGEST, { prefix: 'hedphones' });
      const names = searchSuggestions.filter((s: any) => s.product).map((s: any) => s.product.name as string);
      expect(names).toEqual(expect.arrayContaining(['Wireless Noise-Cancelling Headphones', 'Studio Monitor Headphones']));
      const two = await gqlOk(SUGGEST, { prefix: 'wireles hedph' });
      expect(two.searchSuggestions.map((s: any) => s.text)).toContain('Wireless Noise-Cancelling Headphones');
    });

    it('should honour first, answer nothing for an empty prefix and refuse a bad first', async () => {
      expect((await gqlOk(SUGGEST, { prefix: 'e', first: 3 })).searchSuggestions.length).toBeLessThanOrEqual(3);
      expect((await gqlOk(SUGGEST, { prefix: '  !! ' })).searchSuggestions).toEqual([]);
      const res = await shop.gql(SUGGEST, { prefix: 'head', first: 500 });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
    });
  });

  describe('the demo catalogue', () => {
    it('should show pictures the shop serves itself', async () => {
      const { products: page } = await gqlOk('{ products(first: 50) { edges { node { name slug imageUrls } } } }');
      expect(page.edges).toHaveLength(50);
      const catalogUrl = new URL(shop.supergraph.services.catalog.url);
      for (const { node } of page.edges) {
        expect(node.imageUrls).toHaveLength(1);
        const url = new URL(node.imageUrls[0]);
        // Absolute, on the catalog itself (the address the gateway reaches it at: no setting in tests).
        expect(url.host).toBe(catalogUrl.host);
        expect(url.pathname).toBe(`/images/products/${node.slug}.svg`);
      }
      const first = page.edges[0].node;
      const res = await fetch(first.imageUrls[0]);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
      const svg = await res.text();
      expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      expect(svg).toContain(`aria-label="${first.name.replace(/"/g, '&quot;')}"`);
      expect((await fetch(new URL('/images/products/no-such-product.svg', catalogUrl))).status).toBe(404);
    });
  });

  describe('ProductConnection.facets', () => {
    it.each([
      ['no filter', {}],
      ['a category subtree', { categorySlug: 'electronics' }],
      ['a search', { search: 'wireless' }],
      ['a price range and stock', { minPrice: '20', maxPrice: '300', inStock: true }],
      ['a minimum price that is a range bound', { minPrice: '50', categorySlug: 'electronics' }],
      ['a category in stock', { inStock: true, categorySlug: 'home' }],
    ])('should count categories and price ranges adding up to totalCount (%s)', async (_title, filter) => {
      const { products: c } = await gqlOk(FACETS, { filter });
      expect(c.totalCount).toBeGreaterThan(0);
      const sum = (xs: Array<{ count: number }>) => xs.reduce((a, x) => a + x.count, 0);
      expect(sum(c.facets.categories)).toBe(c.totalCount);
      expect(sum(c.facets.priceRanges)).toBe(c.totalCount);
      expect(c.facets.inStock).toBeLessThanOrEqual(c.totalCount);
      expect(c.facets.ratings.map((r: any) => r.minRating)).toEqual([1, 2, 3, 4, 5]);
      for (let i = 1; i < 5; i++) expect(c.facets.ratings[i].count).toBeLessThanOrEqual(c.facets.ratings[i - 1].count);
      // The in-stock count is the count of the inStock filter.
      const stocked = await gqlOk(FACETS, { filter: { ...filter, inStock: true } });
      expect(stocked.products.totalCount).toBe(c.facets.inStock);
      // A price range's count is what filtering on it finds (max exclusive but for the last range).
      const range = c.facets.priceRanges[0];
      const cents = (a: string) => Math.round(Number(a) * 100);
      const last = range.max === MAX_PRICE;
      const minPrice = Math.max(cents(range.min), cents((filter as { minPrice?: string }).minPrice ?? '0')) / 100;
      const maxPrice = last ? range.max : ((cents(range.max) - 1) / 100).toFixed(2);
      const inRange = await gqlOk(FACETS, { filter: { ...filter, minPrice: minPrice.toFixed(2), maxPrice } });
      expect(inRange.products.totalCount).toBe(range.count);
    });

    it('should give the same counts from the kept facet cells as from scanning the products', async () => {
      // A maximum price makes the catalog scan the matching products; without one it reads facet_cell.
      for (const filter of [{}, { categorySlug: 'electronics', minPrice: '100' }, { inStock: true, minRating: 1 }]) {
        const cells = (await gqlOk(FACETS, { filter })).products;
        const scanned = (await gqlOk(FACETS, { filter: { ...filter, maxPrice: MAX_PRICE } })).products;
        expect(cells.facets).toEqual(scanned.facets);
        expect(cells.totalCount).toBe(scanned.totalCount);
      }
    });

    it('should count the ratings after reviews', async () => {
      const [a, b] = [products[0]!, products[1]!];
      const customer = await shop.tokenFor({ roles: ['CUSTOMER'] });
      await gqlOk('mutation ($id: ID!) { addReview(productId: $id, rating: 5) { id } }', { id: a.id }, customer);
      await gqlOk('mutation ($id: ID!) { addReview(productId: $id, rating: 2) { id } }', { id: b.id }, customer);
      const rated = await gqlOk(FACETS, { filter: { minRating: 4 } });
      const { products: all } = await gqlOk(FACETS, {});
      expect(all.facets.ratings[3].count).toBe(rated.products.totalCount);
      expect(all.facets.ratings[3].count).toBeGreaterThan(0);
    });
  });

  describe('frequentlyBoughtTogether and recommendedProducts', () => {
    it('should show products bought together after confirmed orders, never the product itself, never a deleted one', async () => {
      // Products nobody has bought yet in this shop.
      const [a, b, c, d] = products.slice(-4) as [DemoProduct, DemoProduct, DemoProduct, DemoProduct];
      expect(await together(a.id)).toEqual([]);
      const u1 = await shop.tokenFor({ userId: randomUUID() });
      const u2 = await shop.tokenFor({ userId: randomUUID() });
      await confirmedOrder(u1, [{ productId: a.id, quantity: 1 }, { productId: b.id, quantity: 1 }, { productId: c.id, quantity: 1 }]);
      await confirmedOrder(u2, [{ productId: a.id, quantity: 1 }, { productId: b.id, quantity: 2 }, { productId: d.id, quantity: 1 }]);
      // The catalog learns confirmations a moment later (order events): c is only in the first
      // order, d only in the second, so three partners means both counted. b shares two orders with a: first.
      const list = await eventually(async () => {
        const ids = await together(a.id);
        return ids.length === 3 ? ids : null;
      }, 20_000, 100);
      expect(list[0]).toBe(b.id);
      expect(list.slice(1).sort()).toEqual([c.id, d.id].sort());
      bestSeller = a.id;
      expect(await together(b.id)).toEqual(expect.arrayContaining([a.id, c.id]));
      expect(await together(b.id)).not.toContain(b.id);

      await gqlOk('mutation ($id: ID!) { deleteProduct(id: $id) }', { id: b.id }, admin);
      expect((await together(a.id)).sort()).toEqual([c.id, d.id].sort());
      expect(await together(c.id)).toEqual([a.id]);
    });

    it('should recommend popular products to a new customer and related unbought ones to a customer with orders', async () => {
      const newcomer = (await register()).token;
      const fresh = (await gqlOk(RECOMMENDED, { first: 5 }, newcomer)).me.recommendedProducts as Array<{ id: string }>;
      expect(fresh).toHaveLength(5);
      // Popular: the product sold most so far (by the previous test: 2 units, more than anything else) leads.
      expect(fresh[0]!.id).toBe(bestSeller);

      // Two customers bought the same two audio products; a third also bought a kettle with them.
      const audio = products.filter((p) => /headphones|earbuds|speaker/i.test(p.name)).slice(0, 2);
      const other = products.find((p) => /kettle|knife|blender|coffee/i.test(p.name))!;
      expect(audio).toHaveLength(2);
      expect(other).toBeDefined();
      const peer = (await register()).token;
      await confirmedOrder(peer, [{ productId: audio[0]!.id, quantity: 1 }, { productId: other.id, quantity: 1 }]);
      const me = (await register()).token;
      await confirmedOrder(me, [{ productId: audio[0]!.id, quantity: 1 }]);
      const recommended = await eventually(async () => {
        const list = (await gqlOk(RECOMMENDED, { first: 10 }, me)).me.recommendedProducts as Array<{ id: string }>;
        return list.some((p) => p.id === other.id) ? list : null;
      }, 20_000, 100);
      // What a similar customer bought with it comes first; never what this customer bought.
      expect(recommended[0]!.id).toBe(other.id);
      expect(recommended.map((p) => p.id)).not.toContain(audio[0]!.id);
      expect(recommended).toHaveLength(10);
    });

    it('should refuse recommendations to anyone but the customer', async () => {
      const alice = await register();
      // An admin reading another user's profile still may not see their recommendations (personal).
      const res = await shop.gql('query ($id: ID!) { user(id: $id) { id recommendedProducts { id } } }', { id: alice.id }, admin);
      expect(res.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
      const own = await shop.gql(RECOMMENDED, {}, alice.token);
      expect(own.errors).toBeUndefined();
      expect(own.data.me.id).toBe(alice.id);
    });
  });

  it('should keep the facet cells right after orders, reviews and a deletion', async () => {
    for (const filter of [{}, { inStock: true }, { inStock: false }, { minRating: 4 }, { categorySlug: 'audio' }]) {
      const cells = (await gqlOk(FACETS, { filter })).products;
      const scanned = (await gqlOk(FACETS, { filter: { ...filter, maxPrice: MAX_PRICE } })).products;
      expect(cells.facets).toEqual(scanned.facets);
    }
  });
});
