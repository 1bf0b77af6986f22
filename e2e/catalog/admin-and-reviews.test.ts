import { randomUUID } from 'node:crypto';
import { CATALOG_PRODUCT_TOPIC, ProductCreated, ProductDeleted, ProductUpdated } from '@shop/events';
import type { Consumer, EventEnvelope } from '@shop/platform';
import { parseEnvelope } from '@shop/platform';
import { eventually, postAsGateway, uniqueName } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { errorCode, startTestShop } from '../support/harness';

const CREATE_CATEGORY = 'mutation ($input: CreateCategoryInput!) { createCategory(input: $input) { id name slug parent { id } } }';
const CREATE_PRODUCT = `mutation ($input: CreateProductInput!) {
  createProduct(input: $input) { id name slug description price { amount currencyCode } category { id } imageUrls rating reviewCount createdAt updatedAt }
}`;
const UPDATE_PRODUCT = 'mutation ($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { id name slug description price { amount currencyCode } category { id } imageUrls updatedAt } }';
const ADD_REVIEW = 'mutation ($id: ID!, $r: Int!, $c: String) { addReview(productId: $id, rating: $r, comment: $c) { id rating comment author { id } createdAt } }';
const PRODUCT = 'query ($id: ID!) { product(id: $id) { id name rating reviewCount reviews(first: 10) { totalCount edges { node { rating comment author { id } } } } } }';

describe('catalog administration and reviews through the gateway', () => {
  let shop: TestShop;
  let admin: string;
  let customer: string;
  let consumer: Consumer;
  const events: EventEnvelope[] = [];
  let audioId: string;
  let electronicsId: string;

  const create = async (input: Record<string, unknown>, token = admin) => shop.gql(CREATE_PRODUCT, { input: { description: 'A test product.', categoryId: audioId, ...input } }, token);

  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process' });
    admin = await shop.tokenFor({ roles: ['ADMIN'] });
    customer = await shop.tokenFor({ roles: ['CUSTOMER'] });
    // An independent consumer group sees every product event the catalog publishes.
    consumer = await shop.bus.subscribe({
      groupId: uniqueName('catalog-events-test'),
      topics: [CATALOG_PRODUCT_TOPIC],
      handle: async (m) => void events.push(parseEnvelope(m.value)),
    });
    const electronics = await shop.gql(CREATE_CATEGORY, { input: { name: 'Electronics' } }, admin);
    electronicsId = electronics.data.createCategory.id;
    const audio = await shop.gql(CREATE_CATEGORY, { input: { name: 'Audio', parentId: electronicsId } }, admin);
    audioId = audio.data.createCategory.id;
  });
  afterAll(async () => {
    await consumer?.stop();
    await shop?.stop();
  });

  it('should refuse admin mutations to customers (FORBIDDEN) and to anonymous callers (UNAUTHENTICATED)', async () => {
    const calls: Array<[string, Record<string, unknown>]> = [
      [CREATE_CATEGORY, { input: { name: 'Hacked' } }],
      [CREATE_PRODUCT, { input: { name: 'Hacked', description: '', price: '1.00', categoryId: audioId } }],
      [UPDATE_PRODUCT, { id: randomUUID(), input: { name: 'Hacked' } }],
      ['mutation ($id: ID!) { deleteProduct(id: $id) }', { id: randomUUID() }],
    ];
    for (const [query, variables] of calls) {
      expect(errorCode(await shop.gql(query, variables, customer))).toBe('FORBIDDEN');
      expect(errorCode(await shop.gql(query, variables))).toBe('UNAUTHENTICATED');
    }
    expect((await shop.gql('{ categories { name } }')).data.categories.map((c: { name: string }) => c.name)).toEqual(['Electronics', 'Audio']);
  });

  it('should create categories in a tree with unique slugs, and refuse duplicates and unknown parents', async () => {
    const phones = await shop.gql(CREATE_CATEGORY, { input: { name: 'Phones', parentId: electronicsId } }, admin);
    expect(phones.data.createCategory).toMatchObject({ name: 'Phones', slug: 'phones', parent: { id: electronicsId } });
    // "Accessories" under two parents: the second slug is prefixed with its parent's.
    const a1 = await shop.gql(CREATE_CATEGORY, { input: { name: 'Accessories', parentId: audioId } }, admin);
    const a2 = await shop.gql(CREATE_CATEGORY, { input: { name: 'Accessories', parentId: phones.data.createCategory.id } }, admin);
    expect([a1.data.createCategory.slug, a2.data.createCategory.slug]).toEqual(['accessories', 'phones-accessories']);
    const dup = await shop.gql(CREATE_CATEGORY, { input: { name: 'accessories', parentId: audioId } }, admin);
    expect(errorCode(dup)).toBe('CONFLICT');
    const orphan = await shop.gql(CREATE_CATEGORY, { input: { name: 'Orphan', parentId: randomUUID() } }, admin);
    expect(orphan.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.parentId' });
    const empty = await shop.gql(CREATE_CATEGORY, { input: { name: '  ' } }, admin);
    expect(empty.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.name' });
  });

  it('should validate product input with BAD_USER_INPUT naming the field', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'Bad', price: '-1.00' }, 'input.price'],
      [{ name: 'Bad', price: '1.999' }, 'input.price'],
      [{ name: 'Bad', price: 'ten' }, 'input.price'],
      [{ name: '', price: '1.00' }, 'input.name'],
      [{ name: 'x'.repeat(201), price: '1.00' }, 'input.name'],
      [{ name: 'Bad', price: '1.00', description: 'x'.repeat(10_001) }, 'input.description'],
      [{ name: 'Bad', price: '1.00', categoryId: randomUUID() }, 'input.categoryId'],
      [{ name: 'Bad', price: '1.00', categoryId: 'not-an-id' }, 'input.categoryId'],
      [{ name: 'Bad', price: '1.00', currencyCode: 'DOLLARS' }, 'input.currencyCode'],
      [{ name: 'Bad', price: '1.00', imageUrls: ['javascript:alert(1)'] }, 'input.imageUrls.0'],
      [{ name: 'Bad', price: '1.00', initialStock: -3 }, 'input.initialStock'],
    ];
    for (const [input, field] of cases) {
      const res = await create(input);
      expect(res.status).not.toBe(500);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    expect((await shop.gql('{ products { totalCount } }')).data.products.totalCount).toBe(0);
  });

  it('should create a product with exact money and publish catalog.product-created.v1 with its stock settings', async () => {
    const res = await create({ name: 'Studio Headphones', price: '129.5', currencyCode: 'eur', imageUrls: ['https://img.example.com/a.jpg'], initialStock: 7, lowStockThreshold: 2 });
    expect(res.errors).toBeUndefined();
    const p = res.data.createProduct;
    expect(p).toMatchObject({ name: 'Studio Headphones', slug: 'studio-headphones', price: { amount: '129.50', currencyCode: 'EUR' }, category: { id: audioId }, rating: null, reviewCount: 0 });
    const event = await eventually(() => events.find((e) => e.type === ProductCreated.type && e.key === p.id));
    expect(event.data).toEqual({
      productId: p.id,
      name: 'Studio Headphones',
      slug: 'studio-headphones',
      price: { amount: '129.50', currencyCode: 'EUR' },
      categoryId: audioId,
      initialStock: 7,
      lowStockThreshold: 2,
    });
    // The same name again gets the next free slug.
    expect((await create({ name: 'Studio Headphones', price: '99.00' })).data.createProduct.slug).toBe('studio-headphones-2');
    // The parent category lists products of its subcategories.
    const listed = await shop.gql('{ category(slug: "electronics") { products { totalCount edges { node { id } } } } }');
    expect(listed.data.category.products.totalCount).toBe(2);
  });

  it('should update only the given fields, keep the slug, and publish catalog.product-updated.v1', async () => {
    const created = (await create({ name: 'Desk Lamp', price: '30.00', imageUrls: ['https://img.example.com/lamp.jpg'] })).data.createProduct;
    const res = await shop.gql(UPDATE_PRODUCT, { id: created.id, input: { name: 'LED Desk Lamp', price: '27.99', categoryId: electronicsId } }, admin);
    expect(res.errors).toBeUndefined();
    expect(res.data.updateProduct).toMatchObject({
      name: 'LED Desk Lamp',
      slug: 'desk-lamp',
      description: 'A test product.',
      price: { amount: '27.99', currencyCode: 'USD' },
      category: { id: electronicsId },
      imageUrls: ['https://img.example.com/lamp.jpg'],
    });
    expect(Date.parse(res.data.updateProduct.updatedAt)).toBeGreaterThan(Date.parse(created.updatedAt));
    const event = await eventually(() => events.find((e) => e.type === ProductUpdated.type && e.key === created.id));
    expect(event.data).toEqual({ productId: created.id, name: 'LED Desk Lamp', slug: 'desk-lamp', price: { amount: '27.99', currencyCode: 'USD' }, categoryId: electronicsId });
    // The new name is searchable at once.
    expect((await shop.gql('{ products(filter: { search: "led lamp" }) { edges { node { id } } } }')).data.products.edges).toEqual([{ node: { id: created.id } }]);

    const bad = await shop.gql(UPDATE_PRODUCT, { id: created.id, input: { price: '-5' } }, admin);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.price' });
    const nulled = await shop.gql(UPDATE_PRODUCT, { id: created.id, input: { name: null } }, admin);
    expect(nulled.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.name' });
    const unknownCategory = await shop.gql(UPDATE_PRODUCT, { id: created.id, input: { categoryId: randomUUID() } }, admin);
    expect(unknownCategory.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.categoryId' });
    expect(errorCode(await shop.gql(UPDATE_PRODUCT, { id: randomUUID(), input: { name: 'X' } }, admin))).toBe('NOT_FOUND');
  });

  it('should soft-delete a product: gone from listings, still resolvable by reference for past orders', async () => {
    const created = (await create({ name: 'Vintage Radio', price: '45.00' })).data.createProduct;
    const del = await shop.gql('mutation ($id: ID!) { deleteProduct(id: $id) }', { id: created.id }, admin);
    expect(del.data).toEqual({ deleteProduct: true });
    await eventually(() => events.find((e) => e.type === ProductDeleted.type && e.key === created.id));
    expect((await shop.gql(PRODUCT, { id: created.id })).data.product).toBeNull();
    const listed = await shop.gql('{ products(first: 100, filter: { search: "radio" }) { totalCount } all: products(first: 100) { edges { node { id } } } }');
    expect(listed.data.products.totalCount).toBe(0);
    expect(listed.data.all.edges.map((e: { node: { id: string } }) => e.node.id)).not.toContain(created.id);
    // What the gateway asks when an order shows its items: the entity, with its name and price.
    const entities = await postAsGateway(shop.supergraph.services.catalog.url, {
      secret: shop.internalAuthSecret,
      audience: 'catalog',
      query: 'query ($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id name price { amount currencyCode } } } }',
      variables: { r: [{ __typename: 'Product', id: created.id }] },
    });
    expect(entities.data._entities).toEqual([{ id: created.id, name: 'Vintage Radio', price: { amount: '45.00', currencyCode: 'USD' } }]);
    // Deleting again is harmless (no second event); an unknown id is NOT_FOUND.
    expect((await shop.gql('mutation ($id: ID!) { deleteProduct(id: $id) }', { id: created.id }, admin)).data).toEqual({ deleteProduct: true });
    expect(errorCode(await shop.gql('mutation ($id: ID!) { deleteProduct(id: $id) }', { id: randomUUID() }, admin))).toBe('NOT_FOUND');
    expect(errorCode(await shop.gql(UPDATE_PRODUCT, { id: created.id, input: { name: 'Back' } }, admin))).toBe('NOT_FOUND');
    expect(errorCode(await shop.gql(ADD_REVIEW, { id: created.id, r: 5 }, customer))).toBe('NOT_FOUND');
    await new Promise((r) => setTimeout(r, 300));
    expect(events.filter((e) => e.type === ProductDeleted.type && e.key === created.id)).toHaveLength(1);
  });

  it('should update the rating with each review and refuse a second review by the same user', async () => {
    const product = (await create({ name: 'Review Me', price: '10.00' })).data.createProduct;
    const alice = await shop.tokenFor({ roles: ['CUSTOMER'] });
    const bob = await shop.tokenFor({ roles: ['CUSTOMER'] });
    const first = await shop.gql(ADD_REVIEW, { id: product.id, r: 5, c: '  Great!  ' }, alice);
    expect(first.errors).toBeUndefined();
    expect(first.data.addReview).toMatchObject({ rating: 5, comment: 'Great!', author: { id: expect.any(String) } });
    expect((await shop.gql(PRODUCT, { id: product.id })).data.product).toMatchObject({ rating: 5, reviewCount: 1 });
    await shop.gql(ADD_REVIEW, { id: product.id, r: 2 }, bob);
    const after = (await shop.gql(PRODUCT, { id: product.id })).data.product;
    expect(after).toMatchObject({ rating: 3.5, reviewCount: 2, reviews: { totalCount: 2 } });
    expect(after.reviews.edges.map((e: { node: { rating: number } }) => e.node.rating)).toEqual([2, 5]); // newest first

    const again = await shop.gql(ADD_REVIEW, { id: product.id, r: 1 }, alice);
    expect(errorCode(again)).toBe('CONFLICT');
    expect((await shop.gql(PRODUCT, { id: product.id })).data.product).toMatchObject({ rating: 3.5, reviewCount: 2 });
  });

  it('should resolve the review author through the users subgraph', async () => {
    const product = (await create({ name: 'Federated Review', price: '10.00' })).data.createProduct;
    const reg = await shop.gql(
      'mutation ($input: RegisterInput!) { register(input: $input) { accessToken user { id username } } }',
      { input: { email: `reviewer-${randomUUID().slice(0, 8)}@example.com`, username: `reviewer_${randomUUID().slice(0, 8)}`, password: 'correct horse battery staple' } },
    );
    expect(reg.errors).toBeUndefined();
    const { accessToken, user } = reg.data.register;
    expect((await shop.gql(ADD_REVIEW, { id: product.id, r: 4, c: 'Solid.' }, accessToken)).errors).toBeUndefined();
    const res = await shop.gql('query ($id: ID!) { product(id: $id) { reviews { edges { node { rating author { id username } } } } } }', { id: product.id });
    expect(res.errors).toBeUndefined();
    expect(res.data.product.reviews.edges).toEqual([{ node: { rating: 4, author: { id: user.id, username: user.username } } }]);
  });

  it('should validate reviews: signed in, rating 1 to 5, a known product', async () => {
    const product = (await create({ name: 'Strictly Reviewed', price: '10.00' })).data.createProduct;
    expect(errorCode(await shop.gql(ADD_REVIEW, { id: product.id, r: 4 }))).toBe('UNAUTHENTICATED');
    for (const r of [0, 6, -1]) {
      const res = await shop.gql(ADD_REVIEW, { id: product.id, r }, customer);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'rating' });
    }
    const long = await shop.gql(ADD_REVIEW, { id: product.id, r: 4, c: 'x'.repeat(2001) }, customer);
    expect(long.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'comment' });
    expect(errorCode(await shop.gql(ADD_REVIEW, { id: randomUUID(), r: 4 }, customer))).toBe('NOT_FOUND');
    expect((await shop.gql(PRODUCT, { id: product.id })).data.product).toMatchObject({ rating: null, reviewCount: 0 });
  });

  it('should keep rating and review count consistent under concurrent reviews', async () => {
    const product = (await create({ name: 'Popular Item', price: '10.00' })).data.createProduct;
    const ratings = [5, 4, 3, 5, 1, 2, 5, 4, 4, 3, 5, 2];
    const tokens = await Promise.all(ratings.map(() => shop.tokenFor({ roles: ['CUSTOMER'] })));
    const results = await Promise.all(ratings.map((r, i) => shop.gql(ADD_REVIEW, { id: product.id, r }, tokens[i])));
    expect(results.map((r) => r.errors)).toEqual(ratings.map(() => undefined));
    // One user racing themselves: exactly one review, the rest CONFLICT.
    const racer = await shop.tokenFor({ roles: ['CUSTOMER'] });
    const race = await Promise.all([1, 2, 3, 4].map(() => shop.gql(ADD_REVIEW, { id: product.id, r: 1 }, racer)));
    expect(race.filter((r) => !r.errors)).toHaveLength(1);
    expect(race.filter((r) => errorCode(r) === 'CONFLICT')).toHaveLength(3);
    const all = [...ratings, 1];
    const expected = Math.round((all.reduce((a, b) => a + b, 0) / all.length) * 100) / 100;
    const p = (await shop.gql(PRODUCT, { id: product.id })).data.product;
    expect(p).toMatchObject({ reviewCount: all.length, rating: expected, reviews: { totalCount: all.length } });
  });

  it('should page through reviews newest first, exactly once', async () => {
    const product = (await create({ name: 'Many Reviews', price: '10.00' })).data.createProduct;
    for (let i = 0; i < 5; i++) await shop.gql(ADD_REVIEW, { id: product.id, r: (i % 5) + 1, c: `review ${i}` }, await shop.tokenFor({ roles: ['CUSTOMER'] }));
    const comments: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i++) {
      const res: { data?: any } = await shop.gql('query ($id: ID!, $a: String) { product(id: $id) { reviews(first: 2, after: $a) { edges { node { comment } } pageInfo { hasNextPage endCursor } } } }', { id: product.id, a: after });
      const page: { edges: Array<{ node: { comment: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string } } = res.data.product.reviews;
      comments.push(...page.edges.map((e) => e.node.comment));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(comments).toEqual(['review 4', 'review 3', 'review 2', 'review 1', 'review 0']);
  });
});
