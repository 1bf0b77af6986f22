/**
 * Issue 19, orders alone (the test plays inventory): a return's refund when the provider is down
 * or loses its answer is retried by the sweep under the same idempotency key, so the charge is
 * refunded exactly the return's share, once; events and `refundedAmount` follow. A sweep (of
 * another replica) that runs right after the receive commits cannot take the receive's refund;
 * a receive that dies after its commit leaves its refund to the sweep once its lease expires.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { StockReserved } from '@shop/events';
import type { ServiceDeps } from '@shop/platform';
import { eventually } from '@shop/platform/testing';
import type { PaymentProvider } from '../src/payments/payment-provider';
import { ReturnsService } from '../src/returns/returns.service';
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

  it('should answer the refund with the receive even when another replica sweeps right after the receive commits', async () => {
    // Another replica's sweep (a ReturnsService of its own on this database) whose provider calls
    // are held until the receives have answered: a refund it took would still be at the provider.
    const { deps, repo, settings, provider } = h.parts;
    const commit = deps.transaction.bind(deps);
    const held: Array<() => void> = [];
    const waiting = new Set<() => void>();
    let replicaRefunds = 0;
    const slowProvider: PaymentProvider = Object.assign(Object.create(provider) as PaymentProvider, {
      refund: async (request: Parameters<PaymentProvider['refund']>[0]) => {
        replicaRefunds += 1;
        for (const wake of waiting) wake();
        await new Promise<void>((release) => held.push(release));
        return provider.refund(request);
      },
    });
    const replica = new ReturnsService({ ...deps, transaction: commit }, repo, slowProvider, settings);
    const sweeps: Array<Promise<number>> = [];
    // The worst moment, made deterministic: after every commit of this service, before the committing
    // call takes its next step, the other replica sweeps (until it has leased nothing, or has leased
    // and is calling the provider).
    const sweepNow = async (): Promise<void> => {
      let wake = (): void => undefined;
      const called = new Promise<void>((resolve) => waiting.add((wake = resolve)));
      const sweep = replica.refundDue();
      sweeps.push(sweep);
      await Promise.race([sweep, called]);
      waiting.delete(wake);
    };
    const racing: ServiceDeps['transaction'] = async (fn) => {
      const result = await commit(fn);
      await sweepNow();
      return result;
    };
    const returns = [await approvedReturn(1), await approvedReturn(2), await approvedReturn(3)];
    const answers: unknown[] = [];
    deps.transaction = racing;
    try {
      for (const { returnId } of returns) answers.push(await receive(returnId));
    } finally {
      deps.transaction = commit;
      for (const release of held.splice(0)) release();
      await Promise.allSettled(sweeps);
    }
    expect(answers).toEqual(returns.map(({ returnId }, i) => ({ id: returnId, status: 'REFUNDED', refund: { amount: ['8.25', '16.50', '24.75'][i], currencyCode: 'USD' } })));
    expect(replicaRefunds).toBe(0); // the other replica never got a refund to make
    for (const [i, { orderId }] of returns.entries()) {
      expect(h.sandbox.chargesOf(orderId)).toEqual([expect.objectContaining({ refundedAmount: ['8.25', '16.50', '24.75'][i] })]);
      await eventually(() => refunded(orderId).length === 1);
    }
  });

  it('should refund once through the sweep a receive that died right after its commit, once its lease has expired', async () => {
    const { orderId, returnId } = await approvedReturn(2);
    const { deps } = h.parts;
    const commit = deps.transaction.bind(deps);
    // Only the transactions of the receive below die after their commit (its process "crashed").
    const dying = new AsyncLocalStorage<boolean>();
    deps.transaction = async (fn) => {
      const result = await commit(fn);
      if (dying.getStore()) throw new Error('the receiving process died after its commit');
      return result;
    };
    try {
      await expect(dying.run(true, () => h.parts.returns.receive(staff, returnId))).rejects.toThrow('died after its commit');
    } finally {
      deps.transaction = commit;
    }
    expect(await h.parts.returns.get(returnId)).toMatchObject({ status: 'RECEIVED', refundAmount: '16.50' });
    expect(await h.parts.returns.refundDue()).toBe(0); // leased to the receive that died: no sweep takes it yet
    expect(h.sandbox.chargesOf(orderId)).toEqual([expect.objectContaining({ refundedAmount: '0.00' })]);
    // Its lease runs out: the next sweep refunds it, once.
    await h.db.query(`UPDATE order_return SET refund_locked_until = now() - interval '1 second' WHERE id = $1`, [returnId]);
    await eventually(async () => (await h.parts.returns.get(returnId)).status === 'REFUNDED', 15_000);
    expect(h.sandbox.chargesOf(orderId)).toEqual([expect.objectContaining({ refundedAmount: '16.50' })]);
    await eventually(() => refunded(orderId).length === 1);
    expect(refunded(orderId)).toEqual([expect.objectContaining({ amountMinor: 1650, reason: 'return', returnId })]);
  });
});
