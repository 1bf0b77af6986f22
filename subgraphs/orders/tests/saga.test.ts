import { randomUUID } from 'node:crypto';
import { StockRejected, StockReserved } from '@shop/events';
import type { Identity } from '@shop/platform';
import { eventually } from '@shop/platform/testing';
import type { OrdersHarness } from './support/orders-harness';
import { admin, customer, ORDER, orderInput, PLACE_ORDER, startOrdersAlone } from './support/orders-harness';

describe('the orders saga (orders alone; the test plays catalog and inventory)', () => {
  let h: OrdersHarness;
  let alice: Identity;
  let shirt: string;
  let mug: string;
  beforeAll(async () => {
    h = await startOrdersAlone();
    alice = customer();
    shirt = await h.createProduct('19.99', 'T-shirt');
    mug = await h.createProduct('7.50', 'Mug');
  });
  afterAll(async () => {
    await h?.stop();
  });

  async function place(items: Array<{ productId: string; quantity: number }>, who: Identity = alice, token = 'tok_visa') {
    const res = await h.gql(PLACE_ORDER, { input: orderInput(items, { token }) }, who);
    expect(res.errors).toBeUndefined();
    return res.data.placeOrder;
  }
  const read = async (id: string, who: Identity = alice) => (await h.gql(ORDER, { id }, who)).data?.order;
  const settled = (id: string, status: string, who: Identity = alice) => eventually(async () => ((await read(id, who))?.status === status ? read(id, who) : null), 10_000);
  const reserve = (order: { id: string; items: Array<{ product: { id: string }; quantity: number }> }) =>
    h.publish(StockReserved, order.id, { orderId: order.id, lines: order.items.map((i) => ({ productId: i.product.id, quantity: i.quantity })) });

  it('should write a PENDING order priced from the catalog read model and publish order-placed with its lines', async () => {
    const order = await place([{ productId: shirt, quantity: 2 }, { productId: mug, quantity: 1 }]);
    expect(order).toMatchObject({ status: 'PENDING', subtotal: { amount: '47.48', currencyCode: 'USD' }, total: { amount: '47.48' }, payment: { status: 'CREATED', provider: 'sandbox', last4: null } });
    expect(order.number).toMatch(/^ORD-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    expect(order.items).toEqual([
      { product: { id: shirt }, productName: 'T-shirt', quantity: 2, unitPrice: { amount: '19.99', currencyCode: 'USD' }, lineTotal: { amount: '39.98', currencyCode: 'USD' } },
      { product: { id: mug }, productName: 'Mug', quantity: 1, unitPrice: { amount: '7.50', currencyCode: 'USD' }, lineTotal: { amount: '7.50', currencyCode: 'USD' } },
    ]);
    expect(order.user).toEqual({ id: alice.userId });
    expect(order.statusHistory).toEqual([{ status: 'PENDING', at: order.createdAt, reason: null }]);
    const placed = await eventually(() => h.events.find((e) => e.key === order.id && e.type === 'orders.order-placed.v1'));
    expect(placed.data).toMatchObject({ orderId: order.id, number: order.number, userId: alice.userId, total: { amount: '47.48', currencyCode: 'USD' } });
    expect(placed.data.items).toEqual([
      { productId: shirt, productName: 'T-shirt', quantity: 2, unitPrice: { amount: '19.99', currencyCode: 'USD' } },
      { productId: mug, productName: 'Mug', quantity: 1, unitPrice: { amount: '7.50', currencyCode: 'USD' } },
    ]);
    await h.publish(StockRejected, order.id, { orderId: order.id, shortages: [] }); // leave nothing pending
  });

  it('should charge once stock is reserved, then confirm and publish order-confirmed', async () => {
    const order = await place([{ productId: shirt, quantity: 1 }]);
    await reserve(order);
    const confirmed = await settled(order.id, 'CONFIRMED');
    expect(confirmed.payment).toEqual({ status: 'CAPTURED', provider: 'sandbox', last4: '4242', declineReason: null });
    expect(confirmed.statusHistory.map((s: { status: string }) => s.status)).toEqual(['PENDING', 'CONFIRMED']);
    expect(h.sandbox.chargesOf(order.id)).toEqual([expect.objectContaining({ outcome: 'approved', amount: '19.99', refunded: false })]);
    await eventually(() => h.eventsOf(order.id).includes('orders.order-confirmed.v1'));
    // Only the last four digits and the provider's charge id are kept; the token is gone.
    const { rows } = await h.db.query('SELECT token, last4, charge_id FROM payment WHERE order_id = $1', [order.id]);
    expect(rows[0]).toEqual({ token: null, last4: '4242', charge_id: expect.stringMatching(/^pi_sandbox_/) });
  });

  it('should reject OUT_OF_STOCK without charging when inventory cannot reserve', async () => {
    const order = await place([{ productId: mug, quantity: 3 }]);
    await h.publish(StockRejected, order.id, { orderId: order.id, shortages: [{ productId: mug, requested: 3, available: 1 }] });
    const rejected = await settled(order.id, 'REJECTED');
    expect(rejected).toMatchObject({ rejectionReason: 'OUT_OF_STOCK', payment: { status: 'VOIDED' }, cancellableUntil: null });
    expect(rejected.statusHistory.map((s: { status: string; reason: string | null }) => [s.status, s.reason])).toEqual([['PENDING', null], ['REJECTED', 'OUT_OF_STOCK']]);
    const event = await eventually(() => h.events.find((e) => e.key === order.id && e.type === 'orders.order-rejected.v1'));
    expect(event.data).toMatchObject({ reason: 'OUT_OF_STOCK', stockWasReserved: false });
    expect(h.sandbox.calls.charge).toBe(1); // only the previous test's charge
  });

  it('should reject PAYMENT_DECLINED and tell inventory to release when the card is declined', async () => {
    const order = await place([{ productId: shirt, quantity: 1 }], alice, 'tok_chargeDeclined');
    await reserve(order);
    const rejected = await settled(order.id, 'REJECTED');
    expect(rejected).toMatchObject({ rejectionReason: 'PAYMENT_DECLINED', payment: { status: 'DECLINED', last4: '0002', declineReason: 'card_declined' } });
    const event = await eventually(() => h.events.find((e) => e.key === order.id && e.type === 'orders.order-rejected.v1'));
    expect(event.data).toMatchObject({ reason: 'PAYMENT_DECLINED', stockWasReserved: true });
  });

  it('should reject an invalid card token as a declined payment', async () => {
    const order = await place([{ productId: shirt, quantity: 1 }], alice, 'tok_made_up');
    await reserve(order);
    expect(await settled(order.id, 'REJECTED')).toMatchObject({ rejectionReason: 'PAYMENT_DECLINED', payment: { status: 'DECLINED', last4: null, declineReason: 'invalid_token' } });
  });

  it('should handle a redelivered and a duplicated reservation answer once', async () => {
    const order = await place([{ productId: mug, quantity: 1 }]);
    const envelope = await reserve(order);
    await h.republish(envelope, StockReserved.topic); // the same event again (inbox)
    await reserve(order); // another answer for the same order (state)
    await settled(order.id, 'CONFIRMED');
    await new Promise((r) => setTimeout(r, 300));
    expect(h.sandbox.chargesOf(order.id)).toHaveLength(1);
    expect(h.eventsOf(order.id).filter((t) => t === 'orders.order-confirmed.v1')).toHaveLength(1);
  });

  it('should retry a charge whose answer was lost with the same idempotency key and charge once', async () => {
    const order = await place([{ productId: mug, quantity: 2 }]);
    const before = h.sandbox.calls.charge;
    h.sandbox.inject('charge', 'lost-response');
    await reserve(order);
    await settled(order.id, 'CONFIRMED');
    expect(h.sandbox.calls.charge - before).toBe(2);
    expect(h.sandbox.chargesOf(order.id)).toHaveLength(1);
  });

  it('should keep the order PENDING while the provider is down and confirm once it is back', async () => {
    const order = await place([{ productId: mug, quantity: 1 }]);
    h.sandbox.inject('charge', 'unavailable', 3); // one round: the first call and both retries
    await reserve(order);
    await eventually(async () => (await h.db.query(`SELECT 1 FROM payment WHERE order_id = $1 AND last_error LIKE '%unavailable%'`, [order.id])).rowCount);
    expect((await read(order.id)).status).toBe('PENDING');
    await settled(order.id, 'CONFIRMED');
    expect(h.sandbox.chargesOf(order.id)).toHaveLength(1);
  });

  it('should reject INVENTORY_TIMEOUT and compensate when inventory never answers, and ignore a late answer', async () => {
    const order = await place([{ productId: shirt, quantity: 1 }]);
    expect(await h.parts.service.expireOverdueSagas(new Date(Date.now() + 3600_000))).toBe(1);
    const rejected = await settled(order.id, 'REJECTED');
    expect(rejected).toMatchObject({ rejectionReason: 'INVENTORY_TIMEOUT', payment: { status: 'VOIDED' } });
    const event = await eventually(() => h.events.find((e) => e.key === order.id && e.type === 'orders.order-rejected.v1'));
    expect(event.data).toMatchObject({ reason: 'INVENTORY_TIMEOUT', stockWasReserved: true });
    await reserve(order); // inventory comes back and answers late
    await new Promise((r) => setTimeout(r, 300));
    expect((await read(order.id)).status).toBe('REJECTED');
    expect(h.sandbox.chargesOf(order.id)).toHaveLength(0);
  });

  it('should reject PAYMENT_TIMEOUT when the charge never resolves, then find the charge that went through and refund it', async () => {
    const order = await place([{ productId: shirt, quantity: 2 }]);
    h.sandbox.inject('charge', 'lost-response', 3);
    await reserve(order);
    await eventually(async () => (await h.db.query('SELECT 1 FROM payment WHERE order_id = $1 AND charge_attempted', [order.id])).rowCount);
    expect(await h.parts.service.expireOverdueSagas(new Date(Date.now() + 3600_000))).toBe(1);
    const rejected = await settled(order.id, 'REJECTED');
    expect(rejected.rejectionReason).toBe('PAYMENT_TIMEOUT');
    // The charge happened at the provider though no answer arrived: the worker finds it and gives the money back.
    await eventually(async () => (await read(order.id)).payment.status === 'REFUNDED', 15_000);
    expect(h.sandbox.chargesOf(order.id)).toEqual([expect.objectContaining({ refunded: true })]);
  });

  it('should let the owner cancel a confirmed order: refunded at once, with cancelled and refunded events', async () => {
    const order = await place([{ productId: shirt, quantity: 1 }]);
    await reserve(order);
    await settled(order.id, 'CONFIRMED');
    const res = await h.gql(`mutation($id: ID!) { cancelOrder(id: $id, reason: "changed my mind") { status cancellableUntil payment { status } statusHistory { status reason } } }`, { id: order.id }, alice);
    expect(res.errors).toBeUndefined();
    expect(res.data.cancelOrder).toMatchObject({ status: 'CANCELLED', cancellableUntil: null, payment: { status: 'REFUNDED' } });
    expect(res.data.cancelOrder.statusHistory.at(-1)).toEqual({ status: 'CANCELLED', reason: 'changed my mind' });
    expect(h.sandbox.chargesOf(order.id)).toEqual([expect.objectContaining({ refunded: true })]);
    await eventually(() => h.eventsOf(order.id).includes('orders.order-refunded.v1'));
    const cancelled = h.events.find((e) => e.key === order.id && e.type === 'orders.order-cancelled.v1');
    expect(cancelled?.data).toMatchObject({ reason: 'changed my mind', refunded: true });
    const again = await h.gql(`mutation($id: ID!) { cancelOrder(id: $id) { status } }`, { id: order.id }, alice);
    expect(again.errors?.[0]?.extensions?.['code']).toBe('CONFLICT');
  });

  it('should cancel a pending order without charging it, even when inventory answers afterwards', async () => {
    const order = await place([{ productId: mug, quantity: 1 }]);
    const res = await h.gql(`mutation($id: ID!) { cancelOrder(id: $id) { status payment { status } } }`, { id: order.id }, alice);
    expect(res.data.cancelOrder).toEqual({ status: 'CANCELLED', payment: { status: 'VOIDED' } });
    await reserve(order);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.sandbox.chargesOf(order.id)).toHaveLength(0);
    const cancelled = await eventually(() => h.events.find((e) => e.key === order.id && e.type === 'orders.order-cancelled.v1'));
    expect(cancelled.data).toMatchObject({ refunded: false });
  });

  it('should ship and deliver as an admin only, in the right states, with the shipped items in the event', async () => {
    const boss = admin();
    const order = await place([{ productId: shirt, quantity: 3 }]);
    const ship = (id: string, who: Identity, carrier = 'UPS', tracking = '1Z999') =>
      h.gql(`mutation($id: ID!, $c: String!, $t: String!) { shipOrder(id: $id, carrier: $c, trackingNumber: $t) { status shipment { carrier trackingNumber shippedAt deliveredAt } } }`, { id, c: carrier, t: tracking }, who);
    const deliver = (id: string, who: Identity) => h.gql(`mutation($id: ID!) { markDelivered(id: $id) { status shipment { deliveredAt } } }`, { id }, who);
    expect((await ship(order.id, boss)).errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', status: 'PENDING' });
    await reserve(order);
    await settled(order.id, 'CONFIRMED');
    expect((await ship(order.id, alice)).errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect((await ship(order.id, boss, ' ')).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'carrier' });
    expect((await deliver(order.id, boss)).errors?.[0]?.extensions?.['code']).toBe('CONFLICT');
    const shipped = await ship(order.id, boss);
    expect(shipped.data.shipOrder).toMatchObject({ status: 'SHIPPED', shipment: { carrier: 'UPS', trackingNumber: '1Z999', deliveredAt: null } });
    const event = await eventually(() => h.events.find((e) => e.key === order.id && e.type === 'orders.order-shipped.v1'));
    expect(event.data).toMatchObject({ items: [{ productId: shirt, quantity: 3 }], carrier: 'UPS', trackingNumber: '1Z999' });
    expect((await h.gql(`mutation($id: ID!) { cancelOrder(id: $id) { status } }`, { id: order.id }, boss)).errors?.[0]?.extensions?.['code']).toBe('CONFLICT');
    expect((await deliver(order.id, alice)).errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    const delivered = await deliver(order.id, boss);
    expect(delivered.data.markDelivered.status).toBe('DELIVERED');
    expect(delivered.data.markDelivered.shipment.deliveredAt).toEqual(expect.any(String));
    await eventually(() => h.eventsOf(order.id).includes('orders.order-delivered.v1'));
    expect(h.eventsOf(order.id)).toEqual(['orders.order-placed.v1', 'orders.payment-succeeded.v1', 'orders.order-confirmed.v1', 'orders.order-shipped.v1', 'orders.order-delivered.v1']);
  });

  it('should answer NOT_FOUND for an unknown order and FORBIDDEN for somebody else’s', async () => {
    const order = await place([{ productId: mug, quantity: 1 }]);
    const bob = customer();
    expect((await h.gql(ORDER, { id: order.id }, bob)).errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect((await h.gql(`mutation($id: ID!) { cancelOrder(id: $id) { status } }`, { id: order.id }, bob)).errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect((await h.gql(ORDER, { id: order.id }, admin())).data.order.id).toBe(order.id);
    expect((await h.gql(ORDER, { id: randomUUID() }, alice)).data.order).toBeNull();
    expect((await h.gql(ORDER, { id: 'not-a-uuid' }, alice)).data.order).toBeNull();
    expect((await h.gql(ORDER, { id: order.id }, null)).errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    expect((await h.gql(`mutation { cancelOrder(id: "${randomUUID()}") { status } }`, {}, alice)).errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    await h.publish(StockRejected, order.id, { orderId: order.id, shortages: [] });
  });

  it('should give each user their own orders through User.orders, batched, and refuse other users’ lists', async () => {
    const bob = customer();
    const bobOrder = await place([{ productId: mug, quantity: 1 }], bob);
    const entities = `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { id orders(first: 2) { totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } } } }`;
    const asAdmin = await h.gql(entities, { reps: [{ __typename: 'User', id: alice.userId }, { __typename: 'User', id: bob.userId }] }, admin());
    expect(asAdmin.errors).toBeUndefined();
    const [a, b] = asAdmin.data._entities;
    expect(a.orders.totalCount).toBeGreaterThan(5);
    expect(a.orders.edges).toHaveLength(2);
    expect(a.orders.pageInfo.hasNextPage).toBe(true);
    expect(b.orders).toMatchObject({ totalCount: 1, edges: [{ node: { id: bobOrder.id } }], pageInfo: { hasNextPage: false } });
    const next = await h.gql(entities.replace('orders(first: 2)', `orders(first: 2, after: "${a.orders.pageInfo.endCursor}")`), { reps: [{ __typename: 'User', id: alice.userId }] }, alice);
    expect(next.data._entities[0].orders.edges[0].node.id).not.toBe(a.orders.edges[1].node.id);
    const asBob = await h.gql(entities, { reps: [{ __typename: 'User', id: alice.userId }] }, bob);
    expect(asBob.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    // No order at all, and past the last page: no edges, the total still counted (one statement per batch).
    const nobody = customer();
    const none = await h.gql(entities, { reps: [{ __typename: 'User', id: nobody.userId }] }, nobody);
    expect(none.data._entities[0].orders).toMatchObject({ totalCount: 0, edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    const past = await h.gql(entities.replace('orders(first: 2)', `orders(first: 2, after: "${b.orders.pageInfo.endCursor}")`), { reps: [{ __typename: 'User', id: bob.userId }] }, bob);
    expect(past.data._entities[0].orders).toMatchObject({ totalCount: 1, edges: [], pageInfo: { hasNextPage: false } });
    await h.publish(StockRejected, bobOrder.id, { orderId: bobOrder.id, shortages: [] });
  });

  it('should list all orders for admins only, filtered by status and paginated', async () => {
    const list = `query($s: OrderStatus, $after: String) { orders(status: $s, first: 2, after: $after) { totalCount edges { node { status } } pageInfo { hasNextPage endCursor } } }`;
    expect((await h.gql(list, {}, alice)).errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    const rejected = await h.gql(list, { s: 'REJECTED' }, admin());
    expect(rejected.data.orders.totalCount).toBeGreaterThanOrEqual(4);
    expect(rejected.data.orders.edges.map((e: any) => e.node.status)).toEqual(['REJECTED', 'REJECTED']);
    const page2 = await h.gql(list, { s: 'REJECTED', after: rejected.data.orders.pageInfo.endCursor }, admin());
    expect(page2.data.orders.edges.length).toBeGreaterThan(0);
    expect((await h.gql(list, { after: 'garbage' }, admin())).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });

  it('should expose the business metrics', async () => {
    const text = await (await fetch(h.service.url.replace('/graphql', '/metrics'))).text();
    for (const name of ['orders_placed_total', 'orders_status_transitions_total{status="REJECTED",reason="OUT_OF_STOCK"}', 'orders_saga_duration_seconds_bucket', 'orders_payment_operations_total{operation="charge",outcome="approved"}', 'orders_cancellations_total{actor="customer",from="CONFIRMED"}']) {
      expect(text).toContain(name);
    }
  });
});
