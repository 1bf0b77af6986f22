/**
 * Issue 18 through the gateway of a whole shop: carts (guest and signed in), shipping methods, tax
 * rates, coupons, totals against hand-computed breakdowns, problems, checkout through the order
 * saga, guest orders with their token, coupon limits under concurrency, expiry, restart and merge,
 * and admin operations refused to customers and guests.
 */
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { eventually } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import { metricsOf, sample, watch } from '../subscriptions/support';
import { registerAccount, waitForMail } from '../users/support';
import { waitForStatus } from './orders-flow';
import type { Catalogue } from './cart-support';
import { ADD, address, APPLY, CART, catalogue, CHECKOUT, CREATE_CART, guestContact, MERGE, ok, ORDER_BREAKDOWN, refusal, SHIP, UPDATE_LINE, untilOrdersKnow } from './cart-support';

jest.setTimeout(240_000);

let shop: TestShop;
let cat: Catalogue;
let db: Pool;
const methods: Record<string, string> = {};
let customer: string;

const ADMIN_OPS = {
  createShippingMethod: ['mutation { createShippingMethod(input: { name: "X", price: "1.00" }) { id } }', {}],
  createCoupon: ['mutation { createCoupon(input: { code: "NOPE", kind: FIXED, value: "1" }) { id } }', {}],
  setTaxRate: ['mutation { setTaxRate(country: "GB", rate: "0.2") { country } }', {}],
  coupons: ['{ coupons { id } }', {}],
} as const;

async function method(name: string, price: string, countries: string[], freeOver?: string): Promise<string> {
  const m = ok(
    await shop.gql(`mutation($input: CreateShippingMethodInput!) { createShippingMethod(input: $input) { id name price { amount } freeOver { amount } countries } }`, { input: { name, price, countries, ...(freeOver ? { freeOver } : {}), estimatedDays: 3 } }, cat.admin),
    'createShippingMethod',
  );
  methods[name] = m.id;
  return m.id;
}

async function coupon(input: Record<string, unknown>): Promise<any> {
  return ok(await shop.gql(`mutation($input: CreateCouponInput!) { createCoupon(input: $input) { id code kind value redemptions } }`, { input }, cat.admin), 'createCoupon');
}

/** A guest cart with these lines, an address and a method; a coupon when given. */
async function guestCart(lines: Array<[string, number]>, country: string, methodName: string, code?: string): Promise<any> {
  const cart = ok(await shop.gql(CREATE_CART), 'createCart');
  for (const [productId, quantity] of lines) ok(await shop.gql(ADD, { cartId: cart.id, productId, quantity }), 'addToCart');
  let c = ok(await shop.gql(SHIP, { cartId: cart.id, address: address(country), methodId: methods[methodName] }), 'setCartShipping');
  if (code) c = ok(await shop.gql(APPLY, { cartId: cart.id, code }), 'applyCoupon');
  return c;
}

const breakdown = (c: any) => ({ subtotal: c.subtotal.amount, discount: c.discount.amount, shipping: c.shipping?.amount ?? null, tax: c.tax.amount, total: c.total.amount });

beforeAll(async () => {
  shop = await startTestShop({ settings: { orders: { CART_SWEEP_INTERVAL_MS: 300, PAYMENT_SANDBOX_LATENCY_MS: 5 } } });
  db = new Pool({ connectionString: shop.databaseUrl('orders'), max: 2 });
  cat = await catalogue(shop);
  customer = await shop.tokenFor({});
  await method('Standard', '4.99', ['US', 'CA'], '50.00');
  await method('Express', '14.90', []);
  await method('EU Post', '6.50', ['DE', 'FR'], '80.00');
  for (const [country, rate] of [['US', '0.0825'], ['DE', '0.19'], ['FR', '0.2']] as const) ok(await shop.gql('mutation($c: String!, $r: Decimal!) { setTaxRate(country: $c, rate: $r) { country rate } }', { c: country, r: rate }, cat.admin), 'setTaxRate');
  await coupon({ code: 'SAVE10', kind: 'PERCENT', value: '10', minSubtotal: '20.00' });
  await coupon({ code: 'FIVE', kind: 'FIXED', value: '5.00' });
  await coupon({ code: 'HALFUP', kind: 'PERCENT', value: '12.5' });
  await coupon({ code: 'BIG-ONLY', kind: 'FIXED', value: '10', minSubtotal: '100' });
  await coupon({ code: 'OVER', kind: 'PERCENT', value: '5', validUntil: new Date(Date.now() - 60_000).toISOString() });
  await coupon({ code: 'EURO', kind: 'FIXED', value: '5', currencyCode: 'EUR' });
});

afterAll(async () => {
  await db?.end();
  await shop?.stop();
});

describe('admin operations', () => {
  it.each(Object.entries(ADMIN_OPS))('should refuse %s to guests (UNAUTHENTICATED) and customers (FORBIDDEN)', async (_name, [query, variables]) => {
    expect(refusal(await shop.gql(query, variables)).code).toBe('UNAUTHENTICATED');
    expect(refusal(await shop.gql(query, variables, customer)).code).toBe('FORBIDDEN');
  });

  it('should answer bad admin input with the field, and CONFLICT for a duplicate code in any case', async () => {
    const bad = await shop.gql('mutation { createShippingMethod(input: { name: "X", price: "1.999" }) { id } }', {}, cat.admin);
    expect(refusal(bad)).toEqual({ code: 'BAD_USER_INPUT', field: 'input.price' });
    expect(refusal(await shop.gql('mutation { setTaxRate(country: "XX", rate: "0.2") { country } }', {}, cat.admin))).toEqual({ code: 'BAD_USER_INPUT', field: 'country' });
    expect(refusal(await shop.gql('mutation { setTaxRate(country: "GB", rate: "1.5") { country } }', {}, cat.admin))).toEqual({ code: 'BAD_USER_INPUT', field: 'rate' });
    const dup = await shop.gql('mutation { createCoupon(input: { code: "save10", kind: FIXED, value: "1" }) { id } }', {}, cat.admin);
    expect(refusal(dup)).toEqual({ code: 'CONFLICT', field: 'input.code' });
    const coupons = ok(await shop.gql('{ coupons { code } }', {}, cat.admin), 'coupons');
    expect(coupons.map((c: any) => c.code)).toEqual(expect.arrayContaining(['SAVE10', 'FIVE']));
    expect(ok(await shop.gql('{ taxRates { country rate } }'), 'taxRates')).toEqual(expect.arrayContaining([{ country: 'DE', rate: '0.19' }, { country: 'US', rate: '0.0825' }]));
  });
});

describe('totals', () => {
  it('should match hand-computed breakdowns for several countries, methods and coupons, with free-over thresholds and half-up rounding', async () => {
    const a = await cat.product('19.99', 500);
    const b = await cat.product('5.00', 500);
    const c = await cat.product('3.33', 500);
    // US, Standard 4.99 (free over 50), SAVE10, tax 8.25 %: 43.31 − 4.33 (4.331) = 38.98 < 50 → 4.99; tax 8.25 % of 43.97 = 3.627525 → 3.63.
    expect(breakdown(await guestCart([[a, 2], [c, 1]], 'US', 'Standard', 'SAVE10'))).toEqual({ subtotal: '43.31', discount: '4.33', shipping: '4.99', tax: '3.63', total: '47.60' });
    // DE, EU Post 6.50 (free over 80), FIVE: 99.95 − 5.00 = 94.95 ≥ 80 → free; tax 19 % of 94.95 = 18.0405 → 18.04.
    expect(breakdown(await guestCart([[a, 5]], 'DE', 'EU Post', 'FIVE'))).toEqual({ subtotal: '99.95', discount: '5.00', shipping: '0.00', tax: '18.04', total: '112.99' });
    // CA, Express 14.90, no tax rate for CA.
    expect(breakdown(await guestCart([[b, 1]], 'CA', 'Express'))).toEqual({ subtotal: '5.00', discount: '0.00', shipping: '14.90', tax: '0.00', total: '19.90' });
    // FR, Express, HALFUP 12.5 % of 5.00 = 0.625 → 0.63 (half up); tax 20 % of 4.37 + 14.90 = 19.27 → 3.854 → 3.85.
    expect(breakdown(await guestCart([[b, 1]], 'FR', 'Express', 'HALFUP'))).toEqual({ subtotal: '5.00', discount: '0.63', shipping: '14.90', tax: '3.85', total: '23.12' });
    // US, Standard: exactly at the threshold (50.00) ships free; tax 8.25 % of 50.00 = 4.125 → 4.13 (half up).
    expect(breakdown(await guestCart([[b, 10]], 'US', 'Standard'))).toEqual({ subtotal: '50.00', discount: '0.00', shipping: '0.00', tax: '4.13', total: '54.13' });
  });

  it('should show the methods for the address, refuse a method or country it cannot use, and refuse coupons that do not apply', async () => {
    const p = await cat.product('9.00', 50);
    const cart = ok(await shop.gql(CREATE_CART), 'createCart');
    expect(cart.shipping).toBeNull();
    expect(cart.availableShippingMethods.map((m: any) => m.name).sort()).toEqual(['EU Post', 'Express', 'Standard']);
    ok(await shop.gql(ADD, { cartId: cart.id, productId: p, quantity: 2 }), 'addToCart');
    const de = ok(await shop.gql(SHIP, { cartId: cart.id, address: address('DE') }), 'setCartShipping');
    expect(de.availableShippingMethods.map((m: any) => m.name).sort()).toEqual(['EU Post', 'Express']);
    expect(de.shipping).toBeNull();
    expect(refusal(await shop.gql(SHIP, { cartId: cart.id, address: address('DE'), methodId: methods['Standard'] }))).toEqual({ code: 'BAD_USER_INPUT', field: 'shippingMethodId' });
    expect(refusal(await shop.gql(SHIP, { cartId: cart.id, address: address('ZZ') }))).toEqual({ code: 'BAD_USER_INPUT', field: 'address.country' });
    for (const code of ['NOSUCH', 'BIG-ONLY', 'OVER', 'EURO', 'SAVE10']) {
      // SAVE10 needs 20.00; the cart has 18.00.
      expect([code, refusal(await shop.gql(APPLY, { cartId: cart.id, code }))]).toEqual([code, { code: 'BAD_USER_INPUT', field: 'code' }]);
    }
    expect(refusal(await shop.gql(ADD, { cartId: cart.id, productId: p, quantity: 0 }))).toEqual({ code: 'BAD_USER_INPUT', field: 'quantity' });
    expect(refusal(await shop.gql(ADD, { cartId: cart.id, productId: p, quantity: 99 }))).toEqual({ code: 'BAD_USER_INPUT', field: 'quantity' });
    expect(refusal(await shop.gql(ADD, { cartId: cart.id, productId: randomUUID(), quantity: 1 }))).toEqual({ code: 'BAD_USER_INPUT', field: 'productId' });
    expect(refusal(await shop.gql(ADD, { productId: p, quantity: 1 })).code).toBe('UNAUTHENTICATED');
    expect(refusal(await shop.gql(ADD, { cartId: 'cart_nope', productId: p, quantity: 1 })).code).toBe('NOT_FOUND');
    // Nothing of the refused operations was written.
    const after = ok(await shop.gql(CART, { id: cart.id }), 'cart');
    expect([after.itemCount, after.couponCodes, after.shippingAddress.country]).toEqual([2, [], 'DE']);
  });
});

describe('checkout', () => {
  it('should take a guest from cart to order, mail link, live updates and cancellation with the token', async () => {
    const p = await cat.product('12.00', 20);
    const cart = await guestCart([[p, 3]], 'US', 'Standard', 'FIVE');
    // 36.00 − 5.00 = 31.00 < 50 → 4.99; tax 8.25 % of 35.99 = 2.969175 → 2.97.
    expect(breakdown(cart)).toEqual({ subtotal: '36.00', discount: '5.00', shipping: '4.99', tax: '2.97', total: '38.96' });
    const input = { cartId: cart.id, payment: { token: 'tok_visa' }, idempotencyKey: randomUUID() };
    expect(refusal(await shop.gql(CHECKOUT, { input }))).toEqual({ code: 'BAD_USER_INPUT', field: 'input.email' });
    const placed = await shop.gql(CHECKOUT, { input: { ...input, email: 'Guest.Buyer@Example.com' } });
    const order = ok(placed, 'checkout');
    expect(order).toMatchObject({ isGuest: true, couponCodes: ['FIVE'], subtotal: { amount: '36.00' }, discount: { amount: '5.00' }, shipping: { amount: '4.99' }, tax: { amount: '2.97' }, total: { amount: '38.96' }, shippingMethod: { name: 'Standard' } });
    // The same key and cart: the same order (the cart is gone, it became the order).
    expect(ok(await shop.gql(CHECKOUT, { input: { ...input, email: 'guest.buyer@example.com' } }), 'checkout').id).toBe(order.id);
    expect(ok(await shop.gql(CART, { id: cart.id }), 'cart')).toBeNull();

    // What users gets for the mail (signed request); unsigned is refused; the e-mail is encrypted at rest.
    const contact = await guestContact(shop, order.id);
    expect(contact.status).toBe(200);
    expect(contact.body).toMatchObject({ email: 'guest.buyer@example.com', number: order.number });
    expect(contact.body.link).toContain(encodeURIComponent(contact.body.token));
    expect((await fetch(`${new URL(shop.supergraph.services.orders.url).origin}/internal/guest-contact/${order.id}`)).status).toBe(401);
    expect((await guestContact(shop, order.id, 'users')).status).toBe(401);
    expect((await guestContact(shop, randomUUID())).status).toBe(404);
    const { rows } = await db.query('SELECT email_encrypted, guest_token_hash FROM orders WHERE id = $1', [order.id]);
    expect(rows[0].email_encrypted).not.toContain('example.com');
    expect(rows[0].guest_token_hash).not.toBe(contact.body.token);

    // The confirmation mail (sent by users, recipient and link asked of orders) carries the breakdown and the link with the token.
    const mail = await waitForMail(shop, 'guest.buyer@example.com', 'order-confirmed', 30_000);
    expect(mail.text).toContain(order.number);
    for (const line of ['Subtotal: 36.00 USD', 'Discount: -5.00 USD', 'Shipping: 4.99 USD', 'Tax: 2.97 USD', 'Total: 38.96 USD']) expect(mail.text).toContain(line);
    const token = decodeURIComponent(/token=([^\s]+)/.exec(mail.text)![1]!);
    expect(token).toBe(contact.body.token);
    const seen = ok(await shop.gql(`query($t: String!) { guestOrder(token: $t) { ${ORDER_BREAKDOWN} } }`, { t: token }), 'guestOrder');
    expect(seen.id).toBe(order.id);
    expect(ok(await shop.gql('query($t: String!) { guestOrder(token: $t) { email isGuest } }', { t: token }), 'guestOrder')).toEqual({ email: 'guest.buyer@example.com', isGuest: true });
    expect(ok(await shop.gql('query($t: String!) { guestOrder(token: $t) { id } }', { t: `${token}x` }), 'guestOrder')).toBeNull();
    // Another customer's token for this order does not exist; the order is not readable by id as a stranger.
    expect(refusal(await shop.gql('query($id: ID!) { order(id: $id) { id } }', { id: order.id }, customer)).code).toBe('FORBIDDEN');
    await eventually(async () => (await shop.gql('query($t: String!) { guestOrder(token: $t) { status } }', { t: token })).data?.guestOrder.status === 'CONFIRMED' || null, 30_000, 100);
    // Follow it live (once orders holds the upstream subscription, so that no event is missed), then cancel.
    const live = watch(shop, 'subscription($t: String!) { guestOrderUpdated(token: $t) { id status total { amount } } }', { t: token });
    await eventually(async () => sample(await metricsOf(shop, 'orders'), 'subgraph_subscriptions_active', { service: 'orders', field: 'guestOrderUpdated' }) === 1 || null, 15_000, 100);
    const cancelled = ok(await shop.gql('mutation($t: String!) { cancelGuestOrder(token: $t, reason: "changed my mind") { id status } }', { t: token }), 'cancelGuestOrder');
    expect(cancelled).toEqual({ id: order.id, status: 'CANCELLED' });
    expect(refusal(await shop.gql('mutation($t: String!) { cancelGuestOrder(token: $t) { id } }', { t: 'forged' })).code).toBe('NOT_FOUND');
    await eventually(async () => live.events.some((e) => e.data?.guestOrderUpdated?.status === 'CANCELLED') || null, 30_000, 100);
    expect(live.events.every((e) => e.data?.guestOrderUpdated?.id === order.id && e.data.guestOrderUpdated.total.amount === '38.96')).toBe(true);
    // The guest hears of it too (recipient and link asked of orders, like the confirmation).
    const cancelMail = await waitForMail(shop, 'guest.buyer@example.com', 'order-cancelled', 30_000);
    expect(cancelMail.text).toContain(`your order ${order.number} was cancelled (changed my mind)`);
    expect(cancelMail.text).toContain(`See your order: ${contact.body.link}`);
    const badToken = watch(shop, 'subscription($t: String!) { guestOrderUpdated(token: $t) { id } }', { t: 'forged' });
    await eventually(async () => badToken.events.length > 0 || badToken.error || null, 15_000, 100);
    expect(JSON.stringify(badToken.events[0]?.errors ?? badToken.error)).toContain('BAD_USER_INPUT');
    await badToken.close();
    await live.close();
  });

  it('should show problems when stock runs out or a price changes, refuse checkout, and accept once resolved', async () => {
    const scarce = await cat.product('7.00', 3);
    const pricey = await cat.product('10.00', 50);
    const user = await shop.tokenFor({});
    ok(await shop.gql(ADD, { productId: scarce, quantity: 2 }, user), 'addToCart');
    const withPricey = ok(await shop.gql(ADD, { productId: pricey, quantity: 1 }, user), 'addToCart');
    ok(await shop.gql(SHIP, { address: address('US'), methodId: methods['Express'] }, user), 'setCartShipping');
    expect(withPricey.problems).toEqual([]);
    ok(await shop.gql('mutation($id: ID!) { adjustInventory(productId: $id, delta: -2, reason: "damaged") { available } }', { id: scarce }, cat.admin), 'adjustInventory');
    ok(await shop.gql('mutation($id: ID!) { updateProduct(id: $id, input: { price: "11.50" }) { id } }', { id: pricey }, cat.admin), 'updateProduct');
    await untilOrdersKnow(shop, scarce, { available: 1 });
    await untilOrdersKnow(shop, pricey, { price: '11.50' });
    const cart = ok(await shop.gql(CART, {}, user), 'cart');
    const line = (id: string) => cart.lines.find((l: any) => l.product.id === id);
    expect(cart.problems.map((p: any) => [p.code, p.lineId]).sort()).toEqual([['INSUFFICIENT_STOCK', line(scarce).id], ['PRICE_CHANGED', line(pricey).id]].sort());
    expect(line(pricey).unitPrice.amount).toBe('11.50');
    const refused = await shop.gql(CHECKOUT, { input: { payment: { token: 'tok_visa' }, idempotencyKey: randomUUID() } }, user);
    expect(refusal(refused).code).toBe('CONFLICT');
    expect(refused.errors![0]!.extensions!['problems'].map((p: any) => p.code).sort()).toEqual(['INSUFFICIENT_STOCK', 'PRICE_CHANGED']);
    expect(ok(await shop.gql(CART, {}, user), 'cart').itemCount).toBe(3);

    ok(await shop.gql('mutation($id: ID!) { adjustInventory(productId: $id, delta: -1, reason: "damaged") { available } }', { id: scarce }, cat.admin), 'adjustInventory');
    await untilOrdersKnow(shop, scarce, { available: 0 });
    expect(ok(await shop.gql(CART, {}, user), 'cart').problems.map((p: any) => p.code).sort()).toEqual(['OUT_OF_STOCK', 'PRICE_CHANGED']);
    ok(await shop.gql(UPDATE_LINE, { lineId: line(scarce).id, quantity: 0 }, user), 'updateCartLine');
    const accepted = ok(await shop.gql(UPDATE_LINE, { lineId: line(pricey).id, quantity: 1 }, user), 'updateCartLine');
    expect(accepted.problems).toEqual([]);
    const order = ok(await shop.gql(CHECKOUT, { input: { payment: { token: 'tok_visa' }, idempotencyKey: randomUUID() } }, user), 'checkout');
    // 11.50 + 14.90 = 26.40, tax 8.25 % = 2.178 → 2.18.
    expect(order).toMatchObject({ isGuest: false, subtotal: { amount: '11.50' }, shipping: { amount: '14.90' }, tax: { amount: '2.18' }, total: { amount: '28.58' } });
    const confirmed = await waitForStatus(shop, order.id, 'CONFIRMED', user, 30_000);
    expect(confirmed.total.amount).toBe('28.58');
    expect((await shop.gql('query($id: ID!) { order(id: $id) { payment { status } email } }', { id: order.id }, user)).data?.order.payment.status).toBe('CAPTURED');
  });

  it('should redeem a coupon limited to 10 exactly 10 times under 50 concurrent checkouts, and give a rejected order its redemption back', async () => {
    const p = await cat.product('20.00', 1000);
    const limited = await coupon({ code: `TEN-${randomUUID().slice(0, 6)}`, kind: 'FIXED', value: '2.00', maxRedemptions: 10 });
    const users = await Promise.all(Array.from({ length: 50 }, () => shop.tokenFor({})));
    for (const u of users) {
      ok(await shop.gql(ADD, { productId: p, quantity: 1 }, u), 'addToCart');
      ok(await shop.gql(SHIP, { address: address('CA'), methodId: methods['Standard'] }, u), 'setCartShipping');
      ok(await shop.gql(APPLY, { code: limited.code.toLowerCase() }, u), 'applyCoupon');
    }
    const answers = await Promise.all(users.map((u) => shop.gql(CHECKOUT, { input: { payment: { token: 'tok_visa' }, idempotencyKey: randomUUID() } }, u)));
    const placed = answers.filter((a) => a.data?.checkout);
    expect(placed).toHaveLength(10);
    expect(answers.filter((a) => !a.data?.checkout).map((a) => refusal(a).code)).toEqual(Array(40).fill('CONFLICT'));
    for (const a of placed) expect(a.data.checkout).toMatchObject({ discount: { amount: '2.00' }, total: { amount: '22.99' } });
    const count = async () => (ok(await shop.gql('{ coupons { code redemptions } }', {}, cat.admin), 'coupons') as any[]).find((c) => c.code === limited.code).redemptions;
    expect(await count()).toBe(10);
    const { rows } = await db.query('SELECT count(*)::int AS n FROM coupon_redemption r JOIN coupon c ON c.id = r.coupon_id WHERE c.code = $1 AND r.released_at IS NULL', [limited.code]);
    expect(rows[0].n).toBe(10);
    const metrics = await metricsOf(shop, 'orders');
    expect(sample(metrics, 'orders_coupon_redemptions_total')).toBeGreaterThanOrEqual(10);
    expect(sample(metrics, 'orders_checkouts_started_total', { guest: 'false' }) - sample(metrics, 'orders_checkouts_completed_total', { guest: 'false' })).toBeGreaterThanOrEqual(40);

    // One of the refused customers: cancel someone's order → the coupon is free again → a declined card → REJECTED → back again.
    const first = placed[0]!.data.checkout;
    const owner = users[answers.indexOf(placed[0]!)]!;
    ok(await shop.gql('mutation($id: ID!) { cancelOrder(id: $id) { status } }', { id: first.id }, owner), 'cancelOrder');
    expect(await count()).toBe(9);
    const other = users[answers.findIndex((a) => !a.data?.checkout)]!;
    const declined = ok(await shop.gql(CHECKOUT, { input: { payment: { token: 'tok_chargeDeclined' }, idempotencyKey: randomUUID() } }, other), 'checkout');
    expect(await count()).toBe(10);
    await waitForStatus(shop, declined.id, 'REJECTED', other, 30_000);
    await eventually(async () => ((await count()) === 9) || null, 10_000, 100);
  });
});

describe('order mails', () => {
  it("should show the breakdown in an account's confirmation mail and its e-mail on the order", async () => {
    const p = await cat.product('8.00', 50);
    const { input, auth } = await registerAccount(shop);
    ok(await shop.gql(ADD, { productId: p, quantity: 2 }, auth.accessToken), 'addToCart');
    ok(await shop.gql(SHIP, { address: address('DE'), methodId: methods['EU Post'] }, auth.accessToken), 'setCartShipping');
    const order = ok(await shop.gql(CHECKOUT, { input: { payment: { token: 'tok_visa' }, idempotencyKey: randomUUID() } }, auth.accessToken), 'checkout');
    // 16.00 + 6.50 = 22.50, tax 19 % = 4.275 → 4.28 (half up).
    expect(order).toMatchObject({ subtotal: { amount: '16.00' }, shipping: { amount: '6.50' }, tax: { amount: '4.28' }, total: { amount: '26.78' } });
    const mail = await waitForMail(shop, input.email.toLowerCase(), 'order-confirmed', 30_000);
    for (const line of ['Subtotal: 16.00 USD', 'Discount: -0.00 USD', 'Shipping: 6.50 USD', 'Tax: 4.28 USD', 'Total: 26.78 USD']) expect(mail.text).toContain(line);
    expect(ok(await shop.gql('query($id: ID!) { order(id: $id) { email isGuest } }', { id: order.id }, auth.accessToken), 'order')).toEqual({ email: input.email.toLowerCase(), isGuest: false });
  });
});

describe('carts over time', () => {
  it("should keep a user's cart through an orders restart and merge a guest cart at sign-in", async () => {
    const p = await cat.product('4.00', 100);
    const q = await cat.product('6.00', 100);
    const user = await shop.tokenFor({});
    const mine = ok(await shop.gql(ADD, { productId: p, quantity: 2 }, user), 'addToCart');
    await shop.supergraph.restart('orders', 300);
    await eventually(async () => (await shop.gql(CART, {}, user)).data?.cart ?? null, 30_000, 100);
    const after = ok(await shop.gql(CART, {}, user), 'cart');
    expect([after.id, after.itemCount]).toEqual([mine.id, 2]);

    const guest = ok(await shop.gql(CREATE_CART), 'createCart');
    ok(await shop.gql(ADD, { cartId: guest.id, productId: p, quantity: 3 }), 'addToCart');
    ok(await shop.gql(ADD, { cartId: guest.id, productId: q, quantity: 1 }), 'addToCart');
    ok(await shop.gql(APPLY, { cartId: guest.id, code: 'FIVE' }), 'applyCoupon');
    expect(refusal(await shop.gql(MERGE, { guestCartId: guest.id })).code).toBe('UNAUTHENTICATED');
    const merged = ok(await shop.gql(MERGE, { guestCartId: guest.id }, user), 'mergeCart');
    expect(merged.id).toBe(mine.id);
    expect(merged.lines.map((l: any) => [l.product.id, l.quantity]).sort()).toEqual([[p, 5], [q, 1]].sort());
    expect(merged.couponCodes).toEqual(['FIVE']);
    expect(breakdown(merged)).toMatchObject({ subtotal: '26.00', discount: '5.00' });
    expect(ok(await shop.gql(CART, { id: guest.id }), 'cart')).toBeNull();
    expect(refusal(await shop.gql(MERGE, { guestCartId: guest.id }, user)).code).toBe('NOT_FOUND');
    // Another user's cart is not reachable by its id.
    expect(ok(await shop.gql(CART, { id: mine.id }, customer), 'cart')).toBeNull();
  });

  it('should expire a cart after its inactivity period and remove it in the background', async () => {
    const p = await cat.product('1.00', 10);
    const cart = ok(await shop.gql(CREATE_CART), 'createCart');
    const added = ok(await shop.gql(ADD, { cartId: cart.id, productId: p, quantity: 1 }), 'addToCart');
    expect(new Date(added.expiresAt).getTime() - new Date(added.updatedAt).getTime()).toBe(7 * 86_400_000);
    // Seven days and a minute without activity (the clock of the row, not of the test).
    await db.query(`UPDATE cart SET updated_at = now() - interval '7 days 1 minute' WHERE id = $1`, [cart.id]);
    expect(ok(await shop.gql(CART, { id: cart.id }), 'cart')).toBeNull();
    expect(refusal(await shop.gql(ADD, { cartId: cart.id, productId: p, quantity: 1 })).code).toBe('NOT_FOUND');
    await eventually(async () => (await db.query('SELECT 1 FROM cart WHERE id = $1', [cart.id])).rowCount === 0 || null, 20_000, 100);
    expect((await db.query('SELECT count(*)::int AS n FROM cart_line WHERE cart_id = $1', [cart.id])).rows[0].n).toBe(0);
  });
});
