/** Cancellation, shipping, authorization and User.orders through the gateway. Run on both buses (cancellation-fulfilment.*.test.ts), one file per bus. */
import { randomUUID } from 'node:crypto';
import { eventually } from '@shop/platform/testing';
import type { BusKind, TestShop } from '../support/harness';
import { errorCode, startTestShop } from '../support/harness';
import type { DemoProduct } from './orders-flow';
import { ORDER, demoProducts, placePendingOrder, stockOf, waitForStatus } from './orders-flow';

export function describeCancellationAndFulfilment(bus: BusKind): void {
  describe(`orders through the gateway: cancellation, shipping, authorization (${bus} bus)`, () => {
    let shop: TestShop;
    let products: DemoProduct[];
    let alice: string;
    let aliceId: string;
    let bob: string;
    let admin: string;
    // Each test takes products of its own so that stock checks never see another test's orders.
    const take = (): DemoProduct => products.shift()!;

    beforeAll(async () => {
      shop = await startTestShop({ bus, seed: true });
      products = (await demoProducts(shop)).filter((p) => p.available >= 3);
      aliceId = randomUUID();
      alice = await shop.tokenFor({ userId: aliceId });
      bob = await shop.tokenFor({});
      admin = await shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] });
    });
    afterAll(async () => {
      await shop?.stop();
    });

    const place = (items: Array<{ productId: string; quantity: number }>, token = alice, payment = 'tok_visa') => placePendingOrder(shop, items, token, payment);

    it('should let the owner cancel within the window: stock released and payment refunded', async () => {
      const p = take();
      const before = await stockOf(shop, p.id);
      const order = await place([{ productId: p.id, quantity: 2 }]);
      await waitForStatus(shop, order.id, 'CONFIRMED', alice);
      expect(Date.parse(order.cancellableUntil) - Date.parse(order.createdAt)).toBe(30 * 60_000);
      expect((await stockOf(shop, p.id)).reserved).toBe(before.reserved + 2);
      const res = await shop.gql(`mutation($id: ID!) { cancelOrder(id: $id, reason: "found it cheaper") { status payment { status } statusHistory { status reason } } }`, { id: order.id }, alice);
      expect(res.errors).toBeUndefined();
      expect(res.data.cancelOrder.status).toBe('CANCELLED');
      expect(res.data.cancelOrder.statusHistory.at(-1)).toEqual({ status: 'CANCELLED', reason: 'found it cheaper' });
      await eventually(async () => (await shop.gql(ORDER, { id: order.id }, alice)).data.order.payment.status === 'REFUNDED', 10_000);
      await eventually(async () => JSON.stringify(await stockOf(shop, p.id)) === JSON.stringify(before), 15_000);
    });

    it('should let only an admin ship a CONFIRMED order and deliver a SHIPPED one; shipping deducts the stock', async () => {
      const p = take();
      const before = await stockOf(shop, p.id);
      const order = await place([{ productId: p.id, quantity: 1 }]);
      const ship = (token: string) =>
        shop.gql(`mutation($id: ID!) { shipOrder(id: $id, carrier: "DHL", trackingNumber: "JD0146000033") { status shipment { carrier trackingNumber deliveredAt } } }`, { id: order.id }, token);
      const deliver = (token: string) => shop.gql(`mutation($id: ID!) { markDelivered(id: $id) { status shipment { deliveredAt } } }`, { id: order.id }, token);
      await waitForStatus(shop, order.id, 'CONFIRMED', alice);
      expect(errorCode(await ship(alice))).toBe('FORBIDDEN');
      expect(errorCode(await deliver(admin))).toBe('CONFLICT');
      const shipped = await ship(admin);
      expect(shipped.data.shipOrder).toEqual({ status: 'SHIPPED', shipment: { carrier: 'DHL', trackingNumber: 'JD0146000033', deliveredAt: null } });
      expect(errorCode(await ship(admin))).toBe('CONFLICT');
      expect(errorCode(await shop.gql(`mutation($id: ID!) { cancelOrder(id: $id) { status } }`, { id: order.id }, alice))).toBe('CONFLICT');
      await eventually(async () => JSON.stringify(await stockOf(shop, p.id)) === JSON.stringify({ onHand: before.onHand - 1, reserved: before.reserved, available: before.available - 1 }), 15_000);
      expect(errorCode(await deliver(alice))).toBe('FORBIDDEN');
      const delivered = await deliver(admin);
      expect(delivered.data.markDelivered.status).toBe('DELIVERED');
      expect(delivered.data.markDelivered.shipment.deliveredAt).toEqual(expect.any(String));
    });

    it('should not let a customer read or cancel somebody else’s order, while an admin sees all orders', async () => {
      const p = take();
      const order = await place([{ productId: p.id, quantity: 1 }]);
      expect(errorCode(await shop.gql(ORDER, { id: order.id }, bob))).toBe('FORBIDDEN');
      expect(errorCode(await shop.gql(`mutation($id: ID!) { cancelOrder(id: $id) { status } }`, { id: order.id }, bob))).toBe('FORBIDDEN');
      expect((await shop.gql(ORDER, { id: order.id }, admin)).data.order.id).toBe(order.id);
      expect(errorCode(await shop.gql(`{ orders { totalCount } }`, {}, alice))).toBe('FORBIDDEN');
      const all = await shop.gql(`{ orders(first: 5) { totalCount edges { node { id user { id } } } } }`, {}, admin);
      expect(all.errors).toBeUndefined();
      expect(all.data.orders.totalCount).toBe(3);
      expect(all.data.orders.edges[0].node).toEqual({ id: order.id, user: { id: aliceId } });
      await waitForStatus(shop, order.id, 'CONFIRMED', alice);
    });

    it('should contribute User.orders to the users subgraph’s User, for the signed-in user', async () => {
      const p = take();
      const suffix = randomUUID().slice(0, 8);
      const registered = await shop.gql(`mutation($input: RegisterInput!) { register(input: $input) { accessToken user { id } } }`, {
        input: { email: `orders-${suffix}@example.com`, username: `orders_${suffix}`, password: 'Correct-Horse-Battery-9' },
      });
      expect(registered.errors).toBeUndefined();
      const token = registered.data.register.accessToken;
      const order = await place([{ productId: p.id, quantity: 1 }], token);
      const me = await shop.gql(`{ me { id email orders(first: 5) { totalCount edges { node { id number user { id email } items { productName } } } } } }`, {}, token);
      expect(me.errors).toBeUndefined();
      expect(me.data.me.orders).toEqual({
        totalCount: 1,
        edges: [{ node: { id: order.id, number: order.number, user: { id: registered.data.register.user.id, email: `orders-${suffix}@example.com` }, items: [{ productName: p.name }] } }],
      });
      await waitForStatus(shop, order.id, 'CONFIRMED', token);
    });
  });
}
