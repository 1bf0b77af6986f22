/**
 * deleteMyAccount through the gateway: the person is erased in every service (users' row, orders'
 * shipping copies and carts, catalog's review authorship) through one event; order amounts stay; every token
 * stops working; a raw search of every database, the event log included, finds nothing of them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { eventually } from '@shop/platform/testing';
import type { ServiceName } from '@shop/supergraph';
import { ADD, APPLY, CHECKOUT, ok, SHIP } from '../orders/cart-support';
import { demoProducts, orderInput, PLACE_ORDER } from '../orders/orders-flow';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import { ADD_ADDRESS, DELETE_ACCOUNT, failure, LOGIN, newPhone, REFRESH, registerAccount, waitForMail } from './support';

const ADD_REVIEW = 'mutation ($id: ID!) { addReview(productId: $id, rating: 4, comment: "Sturdy.") { id } }';
const REVIEWS = 'query ($id: ID!) { product(id: $id) { reviews(first: 20) { edges { node { id rating comment author { id username } } } } } }';
const DATABASES: ReadonlyArray<ServiceName | 'eventbus'> = ['users', 'catalog', 'inventory', 'orders', 'eventbus'];

describe('deleteMyAccount', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process', seed: true });
  });
  afterAll(async () => {
    await shop?.stop();
  });

  /** Every needle found in any column of any table of any service's database (rows as JSON text). */
  async function rawSearch(needles: readonly string[]): Promise<string[]> {
    const found: string[] = [];
    for (const name of DATABASES) {
      const db = new Pool({ connectionString: shop.databaseUrl(name as ServiceName), max: 1 });
      try {
        const { rows: tables } = await db.query<{ schema: string; table: string }>(
          "SELECT table_schema AS schema, table_name AS table FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')",
        );
        for (const t of tables) {
          const { rows } = await db.query<{ row: string }>(`SELECT t::text AS row FROM "${t.schema}"."${t.table}" t`);
          for (const r of rows) for (const n of needles) if (r.row.toLowerCase().includes(n.toLowerCase())) found.push(`${name}.${t.table}: ${n}`);
        }
      } finally {
        await db.end();
      }
    }
    return [...new Set(found)];
  }

  it('should erase the person everywhere, keep the order amounts, and stop every token', async () => {
    const tag = randomBytes(4).toString('hex');
    const person = { firstName: `Ottilie${tag}`, lastName: `Quendel${tag}`, phone: newPhone() };
    const { input, auth } = await registerAccount(shop, person);
    const email = input.email.toLowerCase();
    const address = { line1: `${tag} Larkspur Lane`, city: `Wexcombe${tag}`, postalCode: `ZX${tag}`, country: 'GB' };
    expect((await shop.gql(ADD_ADDRESS, { input: address }, auth.accessToken)).errors).toBeUndefined();
    const [product] = await demoProducts(shop, 1);
    const placed = await shop.gql(PLACE_ORDER, { input: { ...orderInput([{ productId: product!.id, quantity: 1 }]), shippingAddress: address } }, auth.accessToken);
    expect(placed.errors).toBeUndefined();
    const order = placed.data.placeOrder;
    expect((await shop.gql(ADD_REVIEW, { id: product!.id }, auth.accessToken)).errors).toBeUndefined();
    await waitForMail(shop, email, 'order-confirmed', 45_000);
    // A cart checked out with a coupon (a redemption held in the customer's name), then another cart
    // with another address, waiting to be checked out.
    const admin = await shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] });
    const code = `ERASE${tag}`.toUpperCase();
    ok(await shop.gql('mutation($input: CreateCouponInput!) { createCoupon(input: $input) { id } }', { input: { code, kind: 'FIXED', value: '0.50', maxRedemptionsPerCustomer: 1 } }, admin), 'createCoupon');
    const cartAddress = { line1: `${tag} Foxglove Row`, line2: `Flat ${tag}`, city: `Harrowby${tag}`, postalCode: `QY${tag}`, country: 'GB' };
    const fillCart = async () => {
      ok(await shop.gql(ADD, { productId: product!.id, quantity: 1 }, auth.accessToken), 'addToCart');
      const shipped = ok(await shop.gql(SHIP, { address: cartAddress }, auth.accessToken), 'setCartShipping');
      expect(shipped.shippingAddress).toEqual({ country: 'GB' });
      return ok(await shop.gql(SHIP, { address: cartAddress, methodId: shipped.availableShippingMethods[0].id }, auth.accessToken), 'setCartShipping');
    };
    await fillCart();
    ok(await shop.gql(APPLY, { code }, auth.accessToken), 'applyCoupon');
    expect(ok(await shop.gql(CHECKOUT, { input: { payment: { token: 'tok_visa' }, idempotencyKey: randomUUID() } }, auth.accessToken), 'checkout').couponCodes).toEqual([code]);
    const cart = await fillCart();
    const orders = new Pool({ connectionString: shop.databaseUrl('orders'), max: 1 });
    const cartRows = async () => (await orders.query('SELECT id FROM cart WHERE owner_id = $1 UNION ALL SELECT cart_id FROM cart_line WHERE cart_id = $2', [auth.user.id, cart.id])).rows;
    expect(await cartRows()).toHaveLength(2); // the cart and its line
    const redemptions = async () => (await orders.query('SELECT r.customer_key AS key, k.redemptions FROM coupon_redemption r JOIN coupon k ON k.id = r.coupon_id WHERE k.code = $1', [code])).rows;
    expect(await redemptions()).toEqual([{ key: auth.user.id, redemptions: 1 }]);

    // At rest, before anything is erased: names, phone and addresses are ciphertext everywhere.
    const personal = [person.firstName, person.lastName, person.phone, address.line1, address.city, address.postalCode, cartAddress.line1, cartAddress.line2, cartAddress.city, cartAddress.postalCode];
    expect(await rawSearch(personal)).toEqual([]);
    expect(await rawSearch([email])).toEqual(['users.app_user: ' + email]); // the login key, until erased

    expect(failure(await shop.gql(DELETE_ACCOUNT, { password: 'not my password' }, auth.accessToken))).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(failure(await shop.gql(DELETE_ACCOUNT, { password: input.password }))).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect((await shop.gql(DELETE_ACCOUNT, { password: input.password }, auth.accessToken)).data).toEqual({ deleteMyAccount: true });

    // Every token stops working: access (at the gateway, from the revocation event), refresh, password.
    await eventually(async () => failure(await shop.gql('{ me { id } }', {}, auth.accessToken)).code === 'UNAUTHENTICATED', 15_000, 100);
    expect(failure(await shop.gql(REFRESH, { refreshToken: auth.refreshToken })).code).toBe('UNAUTHENTICATED');
    expect(failure(await shop.gql(LOGIN, { email, password: input.password })).code).toBe('UNAUTHENTICATED');

    // The review stays, by a deleted user.
    const review = await eventually(async () => {
      const edges = (await shop.gql(REVIEWS, { id: product!.id })).data?.product.reviews.edges ?? [];
      const mine = edges.map((e: any) => e.node).find((n: any) => n.comment === 'Sturdy.');
      return mine && mine.author.id !== auth.user.id ? mine : null;
    });
    expect(review.author.username).toBe('deleted user');

    // Nothing of the person in any database, the event log included; the username and id neither.
    await eventually(async () => (await rawSearch([...personal, email, input.username])).length === 0, 20_000, 500);
    expect(await rawSearch([...personal, email, input.username])).toEqual([]);
    // The cart is gone, not just wiped; the user's id names no cart or coupon redemption either.
    expect(await cartRows()).toEqual([]);
    expect(await redemptions()).toEqual([{ key: 'erased', redemptions: 1 }]); // the coupon's counts stay
    await orders.end();

    // Accounting keeps the order and its amounts, without the person.
    const kept = await shop.gql(`query ($id: ID!) { order(id: $id) { number total { amount currencyCode } shippingAddress { line1 city postalCode country } } }`, { id: order.id }, admin);
    expect(kept.data.order).toEqual({ number: order.number, total: order.total, shippingAddress: { line1: '', city: '', postalCode: '', country: 'GB' } });

    // An admin sees that it happened, and nothing else.
    const audit = await shop.gql('{ accountErasures { userId erasedAt sessionsRevoked } }', {}, admin);
    expect(audit.data.accountErasures).toEqual([expect.objectContaining({ userId: auth.user.id, sessionsRevoked: 1 })]);
  }, 120_000);
});
