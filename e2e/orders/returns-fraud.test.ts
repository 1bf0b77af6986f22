/**
 * Issue 19 through the gateway (in-process bus; real orders, inventory and users): returns of
 * delivered orders with partial refunds, restocking and mails; the refusals; concurrent requests
 * and receives never refunding more than was paid; the cancellation refund's event; fraud rules
 * holding an order for an admin who releases or rejects it.
 */
import { Pool } from 'pg';
import { eventually } from '@shop/platform/testing';
import type { ServiceName } from '@shop/supergraph';
import type { TestShop } from '../support/harness';
import { errorCode, startTestShop } from '../support/harness';
import { registerAccount, waitForMail } from '../users/support';
import type { Catalogue } from './cart-support';
import { ADD, address, APPLY, catalogue, CHECKOUT, ok, refusal, SHIP } from './cart-support';
import { orderInput, PLACE_ORDER, stockOf, waitForStatus } from './orders-flow';

const RETURN_FIELDS = 'id status reason refund { amount currencyCode } lines { product { id } quantity } createdAt updatedAt';
const REQUEST = `mutation($orderId: ID!, $lines: [ReturnLineInput!]!, $reason: String!) { requestReturn(orderId: $orderId, lines: $lines, reason: $reason) { ${RETURN_FIELDS} } }`;
const APPROVE = `mutation($id: ID!) { approveReturn(id: $id) { ${RETURN_FIELDS} } }`;
const REJECT = `mutation($id: ID!, $reason: String!) { rejectReturn(id: $id, reason: $reason) { ${RETURN_FIELDS} } }`;
const RECEIVE = `mutation($id: ID!) { receiveReturn(id: $id) { ${RETURN_FIELDS} } }`;
const ORDER_RETURNS = `query($id: ID!) { order(id: $id) { id status total { amount } payment { status refundedAmount { amount currencyCode } } returns { ${RETURN_FIELDS} } } }`;
const HELD = `query($id: ID!) { order(id: $id) { status rejectionReason payment { status } fraudReview { decision rule detail reviewedBy { id } } } }`;

/** Fraud rules of this file: an order above 500.00 from a new customer is held; more than one declined payment in the window rejects the next order. */
const NEW_CUSTOMER_AMOUNT = 500;
const MAX_DECLINES = 1;

describe('returns, refunds and fraud checks through the gateway', () => {
  let shop: TestShop;
  let shopCatalogue: Catalogue;
  let admin: string;
  let alice: { token: string; id: string; email: string };
  let bob: string;
  let db: Pool;
  let bus: Pool;

  beforeAll(async () => {
    shop = await startTestShop({ settings: { orders: { FRAUD_NEW_CUSTOMER_AMOUNT: NEW_CUSTOMER_AMOUNT, FRAUD_MAX_DECLINES_PER_WINDOW: MAX_DECLINES, PAYMENT_SANDBOX_LATENCY_MS: 5 } } });
    shopCatalogue = await catalogue(shop);
    admin = await shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] });
    const account = await registerAccount(shop);
    alice = { token: account.auth.accessToken, id: account.auth.user.id, email: account.input.email.toLowerCase() };
    bob = await shop.tokenFor({});
    db = new Pool({ connectionString: shop.databaseUrl('orders'), max: 2 });
    // The in-process bus's own database (the harness has it, as e2e/users/erasure.test.ts reads it): every published event.
    bus = new Pool({ connectionString: shop.databaseUrl('eventbus' as ServiceName), max: 1 });
  });
  afterAll(async () => {
    await db?.end();
    await bus?.end();
    await shop?.stop();
  });

  const place = async (items: Array<{ productId: string; quantity: number }>, token = alice.token, card = 'tok_visa') => ok(await shop.gql(PLACE_ORDER, { input: orderInput(items, { token: card }) }, token), 'placeOrder');
  /** One sample of orders' /metrics (0 when the series is not there). */
  const metric = async (name: string, labels: string) => {
    const text = await (await fetch(shop.supergraph.services.orders.url.replace('/graphql', '/metrics'))).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };

  /** An order of `items` placed, confirmed, shipped and delivered. */
  async function deliveredOrder(items: Array<{ productId: string; quantity: number }>, token = alice.token): Promise<any> {
    const order = await place(items, token);
    await waitForStatus(shop, order.id, 'CONFIRMED', token);
    ok(await shop.gql(`mutation($id: ID!) { shipOrder(id: $id, carrier: "DHL", trackingNumber: "JD0146000033") { status } }`, { id: order.id }, admin), 'shipOrder');
    ok(await shop.gql(`mutation($id: ID!) { markDelivered(id: $id) { status } }`, { id: order.id }, admin), 'markDelivered');
    return order;
  }

  const request = (orderId: string, lines: Array<{ productId: string; quantity: number }>, token = alice.token, reason = 'does not fit') => shop.gql(REQUEST, { orderId, lines, reason }, token);
  const orderReturns = async (id: string) => ok(await shop.gql(ORDER_RETURNS, { id }, alice.token), 'order');
  const paymentEvents = async (orderId: string) =>
    (await bus.query(`SELECT value FROM bus_message WHERE topic = 'orders.order' AND key = $1 ORDER BY id`, [orderId])).rows
      .map((r) => JSON.parse(r.value))
      .filter((e) => e.type === 'orders.payment-refunded.v1')
      .map((e) => e.data);

  it('should restock exactly the returned units and refund exactly their share, then the rest, with mails', async () => {
    const a = await shopCatalogue.product('12.34', 10);
    const b = await shopCatalogue.product('7.99', 10);
    const order = await deliveredOrder([{ productId: a, quantity: 3 }, { productId: b, quantity: 2 }]);
    expect(order.total.amount).toBe('53.00');
    await eventually(async () => (await stockOf(shop, a)).onHand === 7, 15_000);
    const [stockA, stockB] = [await stockOf(shop, a), await stockOf(shop, b)];

    const requested = ok(await request(order.id, [{ productId: a, quantity: 2 }]), 'requestReturn');
    expect(requested).toMatchObject({ status: 'REQUESTED', reason: 'does not fit', refund: null, lines: [{ product: { id: a }, quantity: 2 }] });
    expect(errorCode(await shop.gql(APPROVE, { id: requested.id }, alice.token))).toBe('FORBIDDEN');
    expect(errorCode(await shop.gql(RECEIVE, { id: requested.id }, admin))).toBe('CONFLICT'); // not approved yet
    expect(ok(await shop.gql(APPROVE, { id: requested.id }, admin), 'approveReturn').status).toBe('APPROVED');
    await waitForMail(shop, alice.email, 'return-approved');

    const received = ok(await shop.gql(RECEIVE, { id: requested.id }, admin), 'receiveReturn');
    expect(received.status).toBe('REFUNDED'); // the sandbox answers at once
    expect(received.refund).toEqual({ amount: '24.68', currencyCode: 'USD' });
    expect(errorCode(await shop.gql(RECEIVE, { id: requested.id }, admin))).toBe('CONFLICT');
    await eventually(async () => (await stockOf(shop, a)).onHand === stockA.onHand + 2, 15_000);
    expect(await stockOf(shop, a)).toEqual({ onHand: stockA.onHand + 2, reserved: stockA.reserved, available: stockA.available + 2 });
    expect(await stockOf(shop, b)).toEqual(stockB);
    const adjustments = ok(await shop.gql(`query($p: ID!) { inventoryAdjustments(productId: $p) { delta reason } }`, { p: a }, admin), 'inventoryAdjustments');
    expect(adjustments).toEqual([{ delta: 2, reason: `return ${requested.id} of order ${order.number}` }]);
    let seen = await orderReturns(order.id);
    expect(seen.payment).toEqual({ status: 'CAPTURED', refundedAmount: { amount: '24.68', currencyCode: 'USD' } });
    expect(seen.returns.map((r: any) => r.status)).toEqual(['REFUNDED']);
    await waitForMail(shop, alice.email, 'return-received');
    expect((await waitForMail(shop, alice.email, 'return-refunded')).text).toContain('24.68 USD');

    // The rest: one A and both B; then nothing is left to return.
    const rest = ok(await request(order.id, [{ productId: b, quantity: 2 }, { productId: a, quantity: 1 }]), 'requestReturn');
    ok(await shop.gql(APPROVE, { id: rest.id }, admin), 'approveReturn');
    expect(ok(await shop.gql(RECEIVE, { id: rest.id }, admin), 'receiveReturn').refund.amount).toBe('28.32');
    seen = await orderReturns(order.id);
    expect(seen.payment).toEqual({ status: 'REFUNDED', refundedAmount: { amount: '53.00', currencyCode: 'USD' } });
    expect(refusal(await request(order.id, [{ productId: a, quantity: 1 }]))).toEqual({ code: 'BAD_USER_INPUT', field: 'lines[0].quantity' });
    await eventually(async () => (await stockOf(shop, b)).onHand === stockB.onHand + 2, 15_000);
    expect((await paymentEvents(order.id)).map((e) => [e.amountMinor, e.currencyCode, e.reason, e.returnId])).toEqual([
      [2468, 'USD', 'return', requested.id],
      [2832, 'USD', 'return', rest.id],
    ]);
  });

  it('should refund a checkout order’s lines with their share of the coupon and the tax, never the shipping', async () => {
    const a = await shopCatalogue.product('20.00', 10);
    const b = await shopCatalogue.product('40.00', 10);
    ok(await shop.gql('mutation($c: String!, $r: Decimal!) { setTaxRate(country: $c, rate: $r) { country } }', { c: 'US', r: '0.0825' }, admin), 'setTaxRate');
    const method = ok(await shop.gql(`mutation($input: CreateShippingMethodInput!) { createShippingMethod(input: $input) { id } }`, { input: { name: 'Returns Std', price: '4.99', countries: ['US'], estimatedDays: 3 } }, admin), 'createShippingMethod');
    ok(await shop.gql(`mutation($input: CreateCouponInput!) { createCoupon(input: $input) { id } }`, { input: { code: 'RETURN10', kind: 'PERCENT', value: '10' } }, admin), 'createCoupon');
    ok(await shop.gql(ADD, { productId: a, quantity: 3 }, alice.token), 'addToCart');
    ok(await shop.gql(ADD, { productId: b, quantity: 1 }, alice.token), 'addToCart');
    ok(await shop.gql(SHIP, { address: address('US'), methodId: method.id }, alice.token), 'setCartShipping');
    ok(await shop.gql(APPLY, { code: 'RETURN10' }, alice.token), 'applyCoupon');
    const order = ok(await shop.gql(CHECKOUT, { input: { payment: { token: 'tok_visa' }, idempotencyKey: `returns-${a}` } }, alice.token), 'checkout');
    // subtotal 100.00 − 10.00 + 4.99 shipping + 8.25 % of 94.99 (7.84) = 102.83
    expect([order.subtotal.amount, order.discount.amount, order.shipping.amount, order.tax.amount, order.total.amount]).toEqual(['100.00', '10.00', '4.99', '7.84', '102.83']);
    await waitForStatus(shop, order.id, 'CONFIRMED', alice.token);
    ok(await shop.gql(`mutation($id: ID!) { shipOrder(id: $id, carrier: "DHL", trackingNumber: "JD0146000034") { status } }`, { id: order.id }, admin), 'shipOrder');
    ok(await shop.gql(`mutation($id: ID!) { markDelivered(id: $id) { status } }`, { id: order.id }, admin), 'markDelivered');
    const refundOf = async (lines: Array<{ productId: string; quantity: number }>) => {
      const r = ok(await request(order.id, lines), 'requestReturn');
      ok(await shop.gql(APPROVE, { id: r.id }, admin), 'approveReturn');
      return ok(await shop.gql(RECEIVE, { id: r.id }, admin), 'receiveReturn').refund.amount;
    };
    // Goods pool 90.00 + floor(7.84 × 90.00 / 94.99) = 97.42; one A is 20 % of the goods: floor(19.484) = 19.48.
    expect(await refundOf([{ productId: a, quantity: 1 }])).toBe('19.48');
    // The rest: 97.42 − 19.48, the cent floored before comes back.
    expect(await refundOf([{ productId: a, quantity: 2 }, { productId: b, quantity: 1 }])).toBe('77.94');
    expect((await orderReturns(order.id)).payment).toEqual({ status: 'CAPTURED', refundedAmount: { amount: '97.42', currencyCode: 'USD' } });
  });

  it('should refuse returns outside the window, of others’ or undelivered orders, of more units than ordered, and bad input', async () => {
    const p = await shopCatalogue.product('5.00', 10);
    const other = await shopCatalogue.product('6.00', 10);
    const order = await deliveredOrder([{ productId: p, quantity: 2 }]);
    expect(errorCode(await request(order.id, [{ productId: p, quantity: 1 }], bob))).toBe('FORBIDDEN');
    expect(errorCode(await request(order.id, [{ productId: p, quantity: 1 }], admin))).toBe('FORBIDDEN');
    expect(errorCode(await request(order.id, [{ productId: p, quantity: 1 }], null as unknown as string))).toBe('UNAUTHENTICATED');
    expect(errorCode(await request('00000000-0000-4000-8000-000000000000', [{ productId: p, quantity: 1 }]))).toBe('NOT_FOUND');
    expect(refusal(await request(order.id, [{ productId: p, quantity: 3 }]))).toEqual({ code: 'BAD_USER_INPUT', field: 'lines[0].quantity' });
    expect(refusal(await request(order.id, [{ productId: p, quantity: 1 }, { productId: other, quantity: 1 }]))).toEqual({ code: 'BAD_USER_INPUT', field: 'lines[1].productId' });
    expect(refusal(await request(order.id, [{ productId: p, quantity: 0 }]))).toEqual({ code: 'BAD_USER_INPUT', field: 'lines[0].quantity' });
    expect(refusal(await request(order.id, [{ productId: 'nope', quantity: 1 }]))).toEqual({ code: 'BAD_USER_INPUT', field: 'lines[0].productId' });
    expect(refusal(await request(order.id, []))).toEqual({ code: 'BAD_USER_INPUT', field: 'lines' });
    expect(refusal(await request(order.id, [{ productId: p, quantity: 1 }], alice.token, '  '))).toEqual({ code: 'BAD_USER_INPUT', field: 'reason' });
    expect(errorCode(await shop.gql(APPROVE, { id: '00000000-0000-4000-8000-000000000000' }, admin))).toBe('NOT_FOUND');
    expect(errorCode(await shop.gql(APPROVE, { id: 'not-an-id' }, admin))).toBe('NOT_FOUND');
    expect((await orderReturns(order.id)).returns).toEqual([]); // nothing half-written

    // A rejected return gives its units back to what may be requested.
    const first = ok(await request(order.id, [{ productId: p, quantity: 2 }]), 'requestReturn');
    expect(refusal(await request(order.id, [{ productId: p, quantity: 1 }]))).toEqual({ code: 'BAD_USER_INPUT', field: 'lines[0].quantity' });
    expect(refusal(await shop.gql(REJECT, { id: first.id, reason: '' }, admin))).toEqual({ code: 'BAD_USER_INPUT', field: 'reason' });
    expect(ok(await shop.gql(REJECT, { id: first.id, reason: 'worn' }, admin), 'rejectReturn').status).toBe('REJECTED');
    expect(errorCode(await shop.gql(APPROVE, { id: first.id }, admin))).toBe('CONFLICT');
    ok(await request(order.id, [{ productId: p, quantity: 2 }]), 'requestReturn');

    // Outside the window (30 days by default): delivered 31 days ago.
    const late = await deliveredOrder([{ productId: p, quantity: 1 }]);
    await db.query(`UPDATE orders SET delivered_at = now() - interval '31 days' WHERE id = $1`, [late.id]);
    const res = await request(late.id, [{ productId: p, quantity: 1 }]);
    expect(errorCode(res)).toBe('CONFLICT');
    expect(res.errors![0]!.extensions!['returnableUntil']).toEqual(expect.any(String));

    // Not delivered yet.
    const confirmed = await place([{ productId: p, quantity: 1 }]);
    await waitForStatus(shop, confirmed.id, 'CONFIRMED', alice.token);
    const early = await request(confirmed.id, [{ productId: p, quantity: 1 }]);
    expect(errorCode(early)).toBe('CONFLICT');
    expect(early.errors![0]!.extensions!['status']).toBe('CONFIRMED');
  });

  it('should never refund more than was paid under concurrent requests and receives, and the table refuses it anyway', async () => {
    const p = await shopCatalogue.product('10.00', 20);
    const order = await deliveredOrder([{ productId: p, quantity: 4 }]);
    await eventually(async () => (await stockOf(shop, p)).onHand === 16, 15_000);
    // 12 concurrent requests of one unit each: exactly 4 fit.
    const answers = await Promise.all(Array.from({ length: 12 }, () => request(order.id, [{ productId: p, quantity: 1 }])));
    const accepted = answers.filter((r) => !r.errors).map((r) => r.data!.requestReturn);
    expect(accepted).toHaveLength(4);
    expect(answers.filter((r) => r.errors).map(refusal)).toEqual(Array.from({ length: 8 }, () => ({ code: 'BAD_USER_INPUT', field: 'lines[0].quantity' })));
    for (const r of accepted) ok(await shop.gql(APPROVE, { id: r.id }, admin), 'approveReturn');
    // Each received three times at once: each return is received and refunded once.
    const receives = await Promise.all(accepted.flatMap((r) => [r, r, r].map(() => shop.gql(RECEIVE, { id: r.id }, admin))));
    expect(receives.filter((r) => !r.errors)).toHaveLength(4);
    expect(receives.filter((r) => r.errors).map(errorCode)).toEqual(Array.from({ length: 8 }, () => 'CONFLICT'));
    const seen = await eventually(async () => {
      const o = await orderReturns(order.id);
      return o.returns.every((r: any) => r.status === 'REFUNDED') ? o : null;
    }, 20_000);
    expect(seen.returns.map((r: any) => r.refund.amount)).toEqual(['10.00', '10.00', '10.00', '10.00']);
    expect(seen.payment.refundedAmount.amount).toBe('40.00');
    expect((await paymentEvents(order.id)).reduce((sum, e) => sum + e.amountMinor, 0)).toBe(4000);
    await eventually(async () => (await stockOf(shop, p)).onHand === 20, 15_000);
    // Whatever a future code path might do, the database refuses refunds beyond the payment.
    await expect(db.query('UPDATE payment SET refund_committed = amount + 0.01 WHERE order_id = $1', [order.id])).rejects.toThrow(/payment_refunds_within_amount/);
    await expect(db.query('UPDATE payment SET refunded_amount = refunded_amount + 0.01 WHERE order_id = $1', [order.id])).rejects.toThrow(/payment_refunds_within_amount/);
  });

  it('should count a cancellation’s refund in refundedAmount and publish orders.payment-refunded.v1', async () => {
    const p = await shopCatalogue.product('19.99', 5);
    const order = await place([{ productId: p, quantity: 2 }]);
    await waitForStatus(shop, order.id, 'CONFIRMED', alice.token);
    ok(await shop.gql(`mutation($id: ID!) { cancelOrder(id: $id) { status } }`, { id: order.id }, alice.token), 'cancelOrder');
    await eventually(async () => (await orderReturns(order.id)).payment.status === 'REFUNDED', 15_000);
    expect((await orderReturns(order.id)).payment.refundedAmount).toEqual({ amount: '39.98', currencyCode: 'USD' });
    expect(await eventually(async () => (await paymentEvents(order.id)).length === 1 && paymentEvents(order.id), 10_000)).toEqual([
      expect.objectContaining({ orderId: order.id, amountMinor: 3998, currencyCode: 'USD', reason: 'cancellation', returnId: null }),
    ]);
  });

  it('should hold a large first order for review; an admin releases it and it is CONFIRMED', async () => {
    const p = await shopCatalogue.product('600.00', 5);
    const customer = await shop.tokenFor({});
    const order = await place([{ productId: p, quantity: 1 }], customer);
    const held = await eventually(async () => {
      const o = ok(await shop.gql(HELD, { id: order.id }, admin), 'order');
      return o.payment.status === 'HELD_FOR_REVIEW' ? o : null;
    }, 15_000);
    expect(held).toMatchObject({ status: 'PENDING', fraudReview: { decision: 'HELD', rule: 'NEW_CUSTOMER_AMOUNT', reviewedBy: null } });
    expect(held.fraudReview.detail).toContain('600.00');
    expect((await stockOf(shop, p)).reserved).toBe(1);
    // The customer sees the hold, not the rule; only an admin decides.
    expect(ok(await shop.gql(HELD, { id: order.id }, customer), 'order')).toMatchObject({ status: 'PENDING', payment: { status: 'HELD_FOR_REVIEW' }, fraudReview: null });
    expect(errorCode(await shop.gql(`mutation($id: ID!) { releaseHeldOrder(id: $id) { status } }`, { id: order.id }, customer))).toBe('FORBIDDEN');
    ok(await shop.gql(`mutation($id: ID!) { releaseHeldOrder(id: $id) { status } }`, { id: order.id }, admin), 'releaseHeldOrder');
    const confirmed = await waitForStatus(shop, order.id, 'CONFIRMED', customer);
    expect(confirmed.payment.status).toBe('CAPTURED');
    expect(ok(await shop.gql(HELD, { id: order.id }, admin), 'order').fraudReview).toMatchObject({ decision: 'RELEASED', rule: 'NEW_CUSTOMER_AMOUNT' });
    // Not held any more: a second release is a CONFLICT.
    expect(errorCode(await shop.gql(`mutation($id: ID!) { releaseHeldOrder(id: $id) { status } }`, { id: order.id }, admin))).toBe('CONFLICT');
  });

  it('should reject a held order on an admin’s word and release its stock', async () => {
    const p = await shopCatalogue.product('700.00', 5);
    const customer = await shop.tokenFor({});
    const order = await place([{ productId: p, quantity: 2 }], customer);
    await eventually(async () => ok(await shop.gql(HELD, { id: order.id }, admin), 'order').payment.status === 'HELD_FOR_REVIEW', 15_000);
    expect((await stockOf(shop, p)).reserved).toBe(2);
    const rejected = ok(await shop.gql(`mutation($id: ID!) { rejectHeldOrder(id: $id, reason: "stolen card reported") { status rejectionReason payment { status } } }`, { id: order.id }, admin), 'rejectHeldOrder');
    expect(rejected).toEqual({ status: 'REJECTED', rejectionReason: 'FRAUD_REJECTED', payment: { status: 'VOIDED' } });
    await eventually(async () => (await stockOf(shop, p)).reserved === 0, 15_000);
    expect(await stockOf(shop, p)).toEqual({ onHand: 5, reserved: 0, available: 5 });
    expect(ok(await shop.gql(HELD, { id: order.id }, admin), 'order').fraudReview).toMatchObject({ decision: 'REJECTED', rule: 'ADMIN_REJECTED' });
  });

  it('should reject an order at once after too many declined payments in the window, releasing its stock, and count the decisions', async () => {
    const p = await shopCatalogue.product('15.00', 5);
    const customer = await shop.tokenFor({});
    for (let i = 0; i <= MAX_DECLINES; i++) {
      const declined = await place([{ productId: p, quantity: 1 }], customer, 'tok_chargeDeclined');
      expect((await waitForStatus(shop, declined.id, 'REJECTED', customer)).rejectionReason).toBe('PAYMENT_DECLINED');
    }
    const order = await place([{ productId: p, quantity: 2 }], customer);
    const rejected = await waitForStatus(shop, order.id, 'REJECTED', customer);
    expect(rejected).toMatchObject({ rejectionReason: 'FRAUD_REJECTED', payment: { status: 'VOIDED' } });
    expect(ok(await shop.gql(HELD, { id: order.id }, admin), 'order').fraudReview).toMatchObject({ decision: 'REJECTED', rule: 'DECLINED_ATTEMPTS', detail: `${MAX_DECLINES + 1} declined payments in 60 min (limit ${MAX_DECLINES})` });
    await eventually(async () => JSON.stringify(await stockOf(shop, p)) === JSON.stringify({ onHand: 5, reserved: 0, available: 5 }), 15_000);
    // Every decision of this file so far: two held large first orders, this rejection.
    expect(await metric('orders_fraud_decisions_total', 'outcome="held",reason="NEW_CUSTOMER_AMOUNT"')).toBeGreaterThanOrEqual(2);
    expect(await metric('orders_fraud_decisions_total', 'outcome="rejected",reason="DECLINED_ATTEMPTS"')).toBeGreaterThanOrEqual(1);
  });
});
