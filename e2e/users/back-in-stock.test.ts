/**
 * Back in stock through the gateway: 500 users wait for a sold-out product; when its available
 * stock goes from 0 to above 0 each gets exactly one message on their channels, and none when
 * the stock changes again later (the requests are fulfilled, not repeated).
 */
import { Pool } from 'pg';
import { eventually } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import { failure, mailbox, newPhone, NOTIFY_ME, PREFERENCES, registerAccount, smsOutbox, waitForSms } from './support';

const WAITERS = 500;
const ADJUST = 'mutation ($productId: ID!, $delta: Int!) { adjustInventory(productId: $productId, delta: $delta, reason: "restock") { available } }';
const MY_REQUESTS = '{ me { stockNotifications { id name } } }';

describe('back-in-stock notifications', () => {
  let shop: TestShop;
  let users: Pool;
  let admin: string;
  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process' });
    users = new Pool({ connectionString: shop.databaseUrl('users'), max: 2 });
    admin = await shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] });
  });
  afterAll(async () => {
    await users?.end();
    await shop?.stop();
  });

  async function soldOutProduct(): Promise<{ id: string; name: string }> {
    const category = await shop.gql('mutation { createCategory(input: { name: "Lamps" }) { id } }', {}, admin);
    const created = await shop.gql(
      'mutation ($input: CreateProductInput!) { createProduct(input: $input) { id name } }',
      { input: { name: 'Brass lamp', description: 'A lamp.', price: '49.00', categoryId: category.data.createCategory.id, initialStock: 0 } },
      admin,
    );
    return created.data.createProduct;
  }

  /** Once users has seen `version` of the product's stock (it follows inventory's stock stream). */
  async function usersSawVersion(productId: string, version: number): Promise<void> {
    await eventually(async () => ((await users.query('SELECT version FROM stock_seen WHERE product_id = $1', [productId])).rows[0]?.version ?? 0) >= version, 30_000, 100);
  }

  it('should notify each of 500 waiting users exactly once when the product is restocked, and never again', async () => {
    const product = await soldOutProduct();

    // One real account that wants e-mail and SMS; it lists its open request.
    const phone = newPhone();
    const lin = await registerAccount(shop, { phone });
    await shop.gql(PREFERENCES, { input: { backInStock: ['EMAIL', 'SMS'] } }, lin.auth.accessToken);
    // users learns about the product from inventory's stock stream a moment after it is created.
    await eventually(async () => (await shop.gql(NOTIFY_ME, { productId: product.id }, lin.auth.accessToken)).data?.notifyMeWhenInStock === true, 30_000, 200);
    expect((await shop.gql(MY_REQUESTS, {}, lin.auth.accessToken)).data.me.stockNotifications).toEqual([product]);

    // 500 more accounts (inserted directly: 500 Argon2 hashes would take minutes), each asking through the gateway.
    const { rows } = await users.query<{ id: string; email: string }>(
      `INSERT INTO app_user (email, username, password_hash)
       SELECT 'waiter-' || i || '-' || $1 || '@example.com', 'waiter_' || i || '_' || $1, 'not-a-hash' FROM generate_series(1, $2::int) AS i RETURNING id, email`,
      [product.id.slice(0, 8), WAITERS],
    );
    for (let i = 0; i < rows.length; i += 25) {
      await Promise.all(
        rows.slice(i, i + 25).map(async (u) => {
          const res = await shop.gql(NOTIFY_ME, { productId: product.id }, await shop.tokenFor({ userId: u.id }));
          expect(res.data).toEqual({ notifyMeWhenInStock: true });
        }),
      );
    }
    expect((await users.query("SELECT count(*)::int AS n FROM stock_notification WHERE product_id = $1 AND status = 'waiting'", [product.id])).rows[0].n).toBe(WAITERS + 1);

    // 0 → 5: everyone hears once.
    expect((await shop.gql(ADJUST, { productId: product.id, delta: 5 }, admin)).data.adjustInventory.available).toBe(5);
    const emails = new Set(rows.map((r) => r.email));
    const delivered = await eventually(async () => {
      const got = (await mailbox(shop)).filter((m) => m.template === 'back-in-stock' && emails.has(m.to));
      return got.length >= WAITERS ? got : null;
    }, 120_000, 500);
    const perRecipient = new Map<string, number>();
    for (const m of delivered) perRecipient.set(m.to, (perRecipient.get(m.to) ?? 0) + 1);
    expect(perRecipient.size).toBe(WAITERS);
    expect([...perRecipient.values()].every((n) => n === 1)).toBe(true);
    expect(delivered[0]!.text).toContain(`/products/${product.id}`);
    expect(delivered[0]!.subject).toBe('Brass lamp is back in stock');
    expect((await waitForSms(shop, phone, 'back-in-stock')).text).toBe(`Shop: "Brass lamp" is back in stock: http://localhost:4000/products/${product.id}`);
    await eventually(async () => (await mailbox(shop, lin.input.email.toLowerCase())).some((m) => m.template === 'back-in-stock'));
    expect((await shop.gql(MY_REQUESTS, {}, lin.auth.accessToken)).data.me.stockNotifications).toEqual([]);

    // Later changes, including a sell-out and a new restock: nobody hears again.
    for (const delta of [3, -8, 2]) await shop.gql(ADJUST, { productId: product.id, delta }, admin);
    const { rows: level } = await (async () => {
      const inventory = new Pool({ connectionString: shop.databaseUrl('inventory'), max: 1 });
      try {
        return await inventory.query<{ version: number }>('SELECT version FROM stock WHERE product_id = $1', [product.id]);
      } finally {
        await inventory.end();
      }
    })();
    await usersSawVersion(product.id, level[0]!.version);
    // The batcher has nothing left, and the outbox holds exactly one message per request.
    const counts = await users.query(
      "SELECT (SELECT count(*)::int FROM stock_notification WHERE product_id = $1 AND status <> 'notified') AS open, (SELECT count(*)::int FROM outgoing_mail WHERE template = 'back-in-stock' AND dedupe_key LIKE 'back-in-stock:' || $1 || '%') AS queued",
      [product.id],
    );
    expect(counts.rows[0]).toEqual({ open: 0, queued: WAITERS + 2 });
    expect((await smsOutbox(shop, phone)).filter((m) => m.template === 'back-in-stock')).toHaveLength(1);
  }, 300_000);

  it('should refuse unknown products and anonymous callers', async () => {
    const { auth } = await registerAccount(shop);
    expect(failure(await shop.gql(NOTIFY_ME, { productId: 'nope' }, auth.accessToken))).toEqual({ code: 'BAD_USER_INPUT', field: 'productId' });
    expect(failure(await shop.gql(NOTIFY_ME, { productId: '00000000-0000-4000-8000-000000000000' }, auth.accessToken)).code).toBe('NOT_FOUND');
    expect(failure(await shop.gql(NOTIFY_ME, { productId: '00000000-0000-4000-8000-000000000000' })).code).toBe('UNAUTHENTICATED');
  });
});
