/**
 * Exact dependency tracking through the gateway: a cached answer is outdated by the events of the
 * entities it was built from, and only by them; and a list filtered on stock (catalog's `inStock`,
 * a read model catalog keeps from inventory's events) is outdated when catalog's own read model
 * changed (its `catalog.product-availability-changed.v1`), not when inventory's event reaches the
 * gateway, however late catalog applies it.
 *
 * Catalog's lag is made certain, not hoped for: the test holds a row lock on the product's
 * availability in catalog's database, so catalog's consumer waits (longer than any fixed delay
 * after the stock event: the former re-marks came 1 s and 5 s after it) while the gateway has
 * already had inventory's event. A list fetched in that window still says "in stock", rightly;
 * once catalog commits, the gateway must never serve that list again.
 */
import { Client } from 'pg';
import { eventually } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import { demoProducts, placePendingOrder, waitForStatus } from '../orders/orders-flow';
import { adjustStock, asAdmin, invalidationsHandled, settledInvalidations, wholeAnswerHits } from './cache-support';

const IN_STOCK = 'query ($search: String!) { products(first: 20, filter: { search: $search, inStock: true }) { edges { node { id name price { amount } } } } }';
const STOCK = 'query ($id: ID!) { product(id: $id) { id inventory { available } } }';
const PRICE = 'query ($id: ID!) { product(id: $id) { id name price { amount } } }';
const ADD_TO_CART = 'mutation ($productId: ID!) { addToCart(productId: $productId, quantity: 1) { id lines { quantity product { id name } unitPrice { amount } } } }';
const TOGETHER = 'query ($id: ID!) { product(id: $id) { id frequentlyBoughtTogether(first: 5) { id } } }';


describe('exact cache dependencies through the gateway', () => {
  let shop: TestShop;
  let catalogDb: Client;
  let productId: string;

  const listed = async (): Promise<boolean> => {
    const res = await shop.gql<{ products: { edges: Array<{ node: { id: string } }> } }>(IN_STOCK, { search: 'lockprobe' });
    expect(res.errors).toBeUndefined();
    return res.data!.products.edges.some((e) => e.node.id === productId);
  };
  const available = async (): Promise<number> => {
    const res = await shop.gql<{ product: { inventory: { available: number } } }>(STOCK, { id: productId });
    expect(res.errors).toBeUndefined();
    return res.data!.product.inventory.available;
  };

  /** A product in a category of its own, created through the gateway as an admin; answers its id. */
  const createProbe = async (categoryName: string, name: string, price: string, initialStock: number): Promise<string> => {
    const admin = await shop.tokenFor({ roles: ['ADMIN'] });
    const category = await shop.gql('mutation ($name: String!) { createCategory(input: { name: $name }) { id } }', { name: categoryName }, admin);
    const created = await shop.gql(
      'mutation ($c: ID!, $name: String!, $price: Decimal!, $stock: Int!) { createProduct(input: { name: $name, description: "A probe.", price: $price, categoryId: $c, initialStock: $stock }) { id } }',
      { c: category.data.createCategory.id, name, price, stock: initialStock },
      admin,
    );
    expect(created.errors).toBeUndefined();
    return created.data.createProduct.id as string;
  };

  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process' });
    catalogDb = new Client({ connectionString: shop.databaseUrl('catalog') });
    await catalogDb.connect();
    productId = await createProbe('Probes', 'Lockprobe Lamp', '9.00', 2);
    // Inventory opened the stock record (from catalog's product event).
    await eventually(async () => (await shop.gql(STOCK, { id: productId })).data?.product?.inventory?.available === 2, 30_000);
  }, 120_000);
  afterAll(async () => {
    await catalogDb?.end();
    await shop?.stop();
  });

  it('should keep a list whose products did not change, and refetch the stock that did', async () => {
    expect(await listed()).toBe(true);
    expect(await available()).toBe(2);
    const delivered = await settledInvalidations(shop.url);
    const hits = await wholeAnswerHits(shop.url);
    expect(await listed()).toBe(true);
    expect(await wholeAnswerHits(shop.url)).toBe(hits + 1);

    // Stock changes, still in stock: catalog's lists are not outdated by it, the stock is.
    const now = await adjustStock(shop, productId, 3);
    await eventually(async () => (await invalidationsHandled(shop.url)) > delivered, 30_000, 20);
    await settledInvalidations(shop.url);
    expect(await available()).toBe(now);
    expect(await listed()).toBe(true);
    expect(await wholeAnswerHits(shop.url)).toBe(hits + 2);
  });

  it('should answer a cached page as the full pipeline does: same body and cache-control, and a bad token still refused', async () => {
    const ask = (authorization?: string) =>
      fetch(shop.url, { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, body: JSON.stringify({ query: IN_STOCK, variables: { search: 'lockprobe' } }) });
    const hits = await wholeAnswerHits(shop.url);
    const first = await ask();
    const second = await ask();
    expect(await wholeAnswerHits(shop.url)).toBeGreaterThan(hits);
    expect(second.status).toBe(200);
    const body = await first.text();
    expect(await second.text()).toBe(body);
    expect(second.headers.get('cache-control')).toBe(first.headers.get('cache-control'));
    // Apollo Server's own header, where its hints give one (every field hinted): kept on a hit.
    const CATEGORIES = JSON.stringify({ query: '{ categories { id name slug } }' });
    const categories = () => fetch(shop.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: CATEGORIES });
    const header = (await categories()).headers.get('cache-control');
    expect(header).toMatch(/max-age=\d+/);
    expect((await categories()).headers.get('cache-control')).toBe(header);
    // A signed-in caller shares the public answer; a token that does not verify is refused, cached page or not.
    const token = await shop.tokenFor({});
    expect(await (await ask(`Bearer ${token}`)).text()).toBe(body);
    const forged = await ask(`Bearer ${token.slice(0, -4)}AAAA`);
    const refused = (await forged.json()) as { data?: unknown; errors?: Array<{ extensions?: { code?: string } }> };
    expect(refused.data ?? null).toBeNull();
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('should never serve a list filtered on stock after catalog’s change reached the gateway, however late catalog applied it', async () => {
    expect(await listed()).toBe(true);
    const lock = new Client({ connectionString: shop.databaseUrl('catalog') });
    await lock.connect();
    let locked = true;
    try {
      await lock.query('BEGIN');
      await lock.query('SELECT 1 FROM product_availability WHERE product_id = $1 FOR UPDATE', [productId]);
      const before = await settledInvalidations(shop.url);
      expect(await adjustStock(shop, productId, -(await available()))).toBe(0);
      // The gateway has inventory's event (its stock answers 0 at once) while catalog waits on the lock.
      await eventually(async () => (await invalidationsHandled(shop.url)) > before, 30_000, 20);
      expect(await available()).toBe(0);
      // Catalog still lists it (its read model has not moved): fetched now, cached now.
      expect(await listed()).toBe(true);
      // Longer than any fixed delay after the stock event.
      await new Promise((r) => setTimeout(r, 6_000));
      expect(await listed()).toBe(true);
      const applied = await settledInvalidations(shop.url);
      await lock.query('COMMIT');
      locked = false;
      // Catalog applies the event and says so; from the moment the gateway has that, never the old list.
      await eventually(async () => (await invalidationsHandled(shop.url)) > applied, 30_000, 20);
      const { rows } = await catalogDb.query<{ available: number }>('SELECT available FROM product_availability WHERE product_id = $1', [productId]);
      expect(rows[0]?.available).toBe(0);
      expect(await listed()).toBe(false);
    } finally {
      if (locked) await lock.query('ROLLBACK');
      await lock.end();
    }

    // Back in stock: listed again once catalog's change is delivered.
    await adjustStock(shop, productId, 4);
    // Well within the list's hint (60 s): only catalog's event can bring it back this soon.
    await eventually(listed, 15_000, 50);
  });

  it('should keep catalog’s cached pages through a shopper’s cart change (it reads products, it changes none), and outdate them at once on an admin’s catalog change', async () => {
    const page = async () => {
      const res = await shop.gql<{ product: { price: { amount: string } } }>(PRICE, { id: productId });
      expect(res.errors).toBeUndefined();
      return res.data!.product.price.amount;
    };
    await settledInvalidations(shop.url);
    const price = await page();
    const hits = await wholeAnswerHits(shop.url);
    expect(await page()).toBe(price);
    expect(await wholeAnswerHits(shop.url)).toBe(hits + 1);

    // The cart's answer names the product and its price: catalog is read to build it.
    const customer = await shop.tokenFor({ roles: ['CUSTOMER'] });
    const added = await shop.gql<{ addToCart: { lines: Array<{ product: { id: string; name: string } }> } }>(ADD_TO_CART, { productId }, customer);
    expect(added.errors).toBeUndefined();
    expect(added.data!.addToCart.lines.map((l) => l.product.id)).toEqual([productId]);
    expect(await page()).toBe(price);
    expect(await wholeAnswerHits(shop.url)).toBe(hits + 2);

    // An admin's mutation through the gateway: read-your-writes, before catalog's event arrives.
    const admin = await shop.tokenFor({ roles: ['ADMIN'] });
    const updated = await shop.gql('mutation ($id: ID!) { updateProduct(id: $id, input: { price: "11.25" }) { id } }', { id: productId }, admin);
    expect(updated.errors).toBeUndefined();
    expect(await page()).toBe('11.25');
    expect(await wholeAnswerHits(shop.url)).toBe(hits + 2);
  });

  it('should outdate a cached frequentlyBoughtTogether once catalog counted a confirmed order of the product, well within its hint', async () => {
    const partner = await createProbe('Probe shades', 'Lockprobe Shade', '4.00', 5);
    // Orders knows both products (their snapshots) and both have stock.
    await eventually(async () => {
      const ids = (await demoProducts(shop, 2)).map((p) => p.id);
      return ids.includes(productId) && ids.includes(partner);
    }, 45_000);
    const together = async (): Promise<string[]> => {
      const res = await shop.gql<{ product: { frequentlyBoughtTogether: Array<{ id: string }> } }>(TOGETHER, { id: productId });
      expect(res.errors).toBeUndefined();
      return res.data!.product.frequentlyBoughtTogether.map((p) => p.id);
    };
    await settledInvalidations(shop.url);
    expect(await together()).toEqual([]);
    const hits = await wholeAnswerHits(shop.url);
    expect(await together()).toEqual([]);
    expect(await wholeAnswerHits(shop.url)).toBe(hits + 1);

    // Catalog's count of the order is held back by a lock on the lines it holds for it (its
    // OrderConfirmed handler deletes them), so the order is confirmed and the list read, and
    // cached, while catalog has not counted it yet: only catalog's event can outdate that answer.
    const customer = await shop.tokenFor({ roles: ['CUSTOMER'] });
    const order = await placePendingOrder(shop, [{ productId, quantity: 1 }, { productId: partner, quantity: 1 }], customer);
    const lock = new Client({ connectionString: shop.databaseUrl('catalog') });
    await lock.connect();
    let locked = true;
    try {
      await eventually(async () => (await catalogDb.query('SELECT 1 FROM order_line_pending WHERE order_id = $1', [order.id])).rowCount === 2, 30_000, 50);
      await lock.query('BEGIN');
      await lock.query('SELECT 1 FROM order_line_pending WHERE order_id = $1 FOR UPDATE', [order.id]);
      await waitForStatus(shop, order.id, 'CONFIRMED', customer);
      expect(await together()).toEqual([]);
      const cached = await wholeAnswerHits(shop.url);
      expect(await together()).toEqual([]);
      expect(await wholeAnswerHits(shop.url)).toBe(cached + 1);
      await lock.query('COMMIT');
      locked = false;
    } finally {
      if (locked) await lock.query('ROLLBACK');
      await lock.end();
    }
    await eventually(async () => (await catalogDb.query('SELECT 1 FROM bought_together WHERE product_id = $1 AND other_id = $2', [productId, partner])).rowCount === 1, 30_000, 50);
    // Within 15 s, a quarter of the answer's hint (Query.product 60 s): only the event can outdate it this soon.
    await eventually(async () => (await together()).includes(partner), 15_000, 100);
  });

  it('should show a category created where no gateway saw it, well within the categories\' hint', async () => {
    const CATEGORIES = '{ categories { id name children { id } } }';
    const names = async (): Promise<string[]> => {
      const res = await shop.gql<{ categories: Array<{ name: string }> }>(CATEGORIES);
      expect(res.errors).toBeUndefined();
      return res.data!.categories.map((c) => c.name);
    };
    await settledInvalidations(shop.url);
    const before = await names();
    const hits = await wholeAnswerHits(shop.url);
    expect(await names()).toEqual(before);
    expect(await wholeAnswerHits(shop.url)).toBe(hits + 1);
    // At catalog directly, as another gateway replica (without a shared store) would leave it: only the event tells this one.
    const created = await asAdmin(shop, 'catalog', 'mutation { createCategory(input: { name: "Probe lanterns" }) { id } }', {});
    expect(created.errors).toBeUndefined();
    // Within 15 s, a fortieth of the list's hint (600 s).
    await eventually(async () => (await names()).includes('Probe lanterns'), 15_000, 100);
  });
});
