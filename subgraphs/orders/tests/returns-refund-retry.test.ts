/**
 * Issue 19, orders alone (the test plays inventory): a return's refund when the provider is down
 * or loses its answer is retried by the sweep under the same idempotency key, so the charge is
 * refunded exactly the return's share, once; events and `refundedAmount` follow.
 */
import { StockReserved } from '@shop/events';
import { eventually } from '@shop/platform/testing';
import type { OrdersHarness } from './support/orders-harness';
import { admin, customer, ORDER, orderInput, PLACE_ORDER, startOrdersAlone } from './support/orders-harness';

const RETURN = 'id status refund { amount currencyCode }';

describe('return refunds when the provider fails (orders alone)', () => {
  let h: OrdersHarness;
  const alice = customer();
  const staff = admin();
  let product: string;
  beforeAll(async () => {
    h = await startOrdersAlone({ RETURN_REFUND_INTERVAL_MS: 100, PAYMENT_MAX_RETRIES: 0 });
    product = await h.createProduct('8.25', 'Socks');
  });
  afterAll(async () => {
    await h?.stop();
  });

  const ok = (res: { data?: any; errors?: unknown }, field: string) => {
    if (res.errors) throw new Error(`${field}: ${JSON.stringify(res.errors)}`);
    return res.data[field];
  };

  /** A delivered order of 4 socks (33.00) with an approved return of `quantity` of them. */
  async function approvedReturn(quantity: number): Promise<{ orderId: string; returnId: string }> {
    const order = ok(await h.gql(PLACE_ORDER, { input: orderInput([{ productId: product, quantity: 4 }]) }, alice), 'placeOrder');
    await h.publish(StockReserved, order.id, { orderId: order.id, lines: [{ productId: product, quantity: 4 }] });
    await eventually(async () => (await h.gql(ORDER, { id: order.id }, alice)).data?.order?.status === 'CONFIRMED', 10_000);
    ok(await h.gql(`mutation($id: ID!) { shipOrder(id: $id, carrier: "DHL", trackingNumber: "T1") { status } }`, { id: order.id }, staff), 'shipOrder');
    ok(await h.gql(`mutation($id: ID!) { markDelivered(id: $id) { status } }`, { id: order.id }, staff), 'markDelivered');
    const requested = ok(await h.gql(`mutation($o: ID!, $l: [ReturnLineInput!]!) { requestReturn(orderId: $o, lines: $l, reason: "too small") { ${RETURN} } }`, { o: order.id, l: [{ productId: product, quantity }] }, alice), 'requestReturn');
    ok(await h.gql(`mutation($id: ID!) { approveReturn(id: $id) { status } }`, { id: requested.id }, staff), 'approveReturn');
    return { orderId: order.id, returnId: requested.id };
  }
  const receive = async (id: string) => ok(await h.gql(`mutation($id: ID!) { receiveReturn(id: $id) { ${RETURN} } }`, { id }, staff), 'receiveReturn');
  const refunded = (orderId: string) => h.events.filter((e) => e.key === orderId && e.type === 'orders.payment-refunded.v1').map((e) => e.data);

  it('should answer RECEIVED while the provider is down and refund once when it is back', async () => {
    const { orderId, returnId } = await approvedReturn(3);
    h.sandbox.inject('refund', 'unavailable', 3);
    expect(await receive(returnId)).toEqual({ id: returnId, status: 'RECEIVED', refund: null });
    const done = await eventually(async () => {
      const o = (await h.gql(`query($id: ID!) { order(id: $id) { payment { refundedAmount { amount } } returns { ${RETURN} } } }`, { id: orderId }, alice)).data?.order;
      return o?.returns[0].status === 'REFUNDED' ? o : null;
    }, 15_000);
    expect(done).toEqual({ payment: { refundedAmount: { amount: '24.75' } }, returns: [{ id: returnId, status: 'REFUNDED', refund: { amount: '24.75', currencyCode: 'USD' } }] });
    expect(h.sandbox.chargesOf(orderId)).toEqual([expect.objectContaining({ amount: '33.00', refundedAmount: '24.75', refunded: false })]);
    await eventually(() => refunded(orderId).length === 1);
    expect(refunded(orderId)).toEqual([expect.objectContaining({ amountMinor: 2475, currencyCode: 'USD', reason: 'return', returnId })]);
    const { rows } = await h.db.query('SELECT refund_attempts, refund_last_error FROM order_return WHERE id = $1', [returnId]);
    expect(rows[0].refund_attempts).toBeGreaterThan(1);
    expect(rows[0].refund_last_error).toBeNull();
  });

  it('should refund once when the provider refunded but its answer was lost', async () => {
    const { orderId, returnId } = await approvedReturn(1);
    h.sandbox.inject('refund', 'lost-response', 1);
    const answer = await receive(returnId);
    expect(['RECEIVED', 'REFUNDED']).toContain(answer.status);
    await eventually(async () => (await h.db.query(`SELECT status FROM order_return WHERE id = $1`, [returnId])).rows[0].status === 'REFUNDED', 15_000);
    // The retry under the same key got the first refund's answer: 8.25 refunded, not 16.50.
    expect(h.sandbox.chargesOf(orderId)).toEqual([expect.objectContaining({ refundedAmount: '8.25' })]);
    await eventually(() => refunded(orderId).length === 1);
    const { rows } = await h.db.query('SELECT refund_committed::text, refunded_amount::text, status FROM payment WHERE order_id = $1', [orderId]);
    expect(rows[0]).toEqual({ refund_committed: '8.25', refunded_amount: '8.25', status: 'CAPTURED' });
  });
});
