/** Checkout and the saga through the gateway, with the real inventory. Run on both buses (checkout-saga.*.test.ts): one file per bus keeps each file short and lets jest run them in parallel. */
import { randomUUID } from 'node:crypto';
import { eventually } from '@shop/platform/testing';
import type { BusKind, TestShop } from '../support/harness';
import { errorCode, startTestShop } from '../support/harness';
import type { DemoProduct } from './orders-flow';
import { PLACE_ORDER, demoProducts, orderInput, placePendingOrder, stockOf, waitForStatus } from './orders-flow';

export function describeCheckoutSaga(bus: BusKind): void {
  describe(`orders through the gateway: checkout and the saga (${bus} bus)`, () => {
    let shop: TestShop;
    let products: DemoProduct[];
    let alice: string;
    let aliceId: string;
    let admin: string;
    // Each test takes products of its own so that stock checks never see another test's orders.
    const take = (): DemoProduct => products.shift()!;

    beforeAll(async () => {
      shop = await startTestShop({ bus, seed: true });
      products = (await demoProducts(shop)).filter((p) => p.available >= 3);
      aliceId = randomUUID();
      alice = await shop.tokenFor({ userId: aliceId });
      admin = await shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] });
    });
    afterAll(async () => {
      await shop?.stop();
    });

    const place = (items: Array<{ productId: string; quantity: number }>, token = alice, payment = 'tok_visa') => placePendingOrder(shop, items, token, payment);

    it('should take a happy-path order from PENDING to CONFIRMED, priced by the catalog, and reserve its stock', async () => {
      const p = take();
      const before = await stockOf(shop, p.id);
      const order = await place([{ productId: p.id, quantity: 2 }]);
      const confirmed = await waitForStatus(shop, order.id, 'CONFIRMED', alice);
      expect(confirmed.statusHistory.map((s: any) => s.status)).toEqual(['PENDING', 'CONFIRMED']);
      expect(confirmed.payment).toEqual({ status: 'CAPTURED', provider: 'sandbox', last4: '4242', declineReason: null });
      expect(confirmed.items).toEqual([
        { productName: p.name, quantity: 2, unitPrice: { amount: p.price, currencyCode: 'USD' }, lineTotal: { amount: (Number(p.price) * 2).toFixed(2) }, product: { id: p.id, name: p.name, price: { amount: p.price } } },
      ]);
      expect(await stockOf(shop, p.id)).toEqual({ onHand: before.onHand, reserved: before.reserved + 2, available: before.available - 2 });
    });

    it('should take prices from the catalog, never from the client', async () => {
      const p = take();
      // The API has nowhere to put a price: a client that sends one is refused outright…
      const lying = await shop.gql(PLACE_ORDER, { input: { ...orderInput([]), items: [{ productId: p.id, quantity: 1, unitPrice: '0.01' }] } }, alice);
      expect(lying.errors?.[0]?.message).toMatch(/unitPrice/);
      expect(lying.data).toBeUndefined();
      // …and the order stores the catalog's price, as the catalog answers it.
      const order = await place([{ productId: p.id, quantity: 3 }]);
      expect(order.items[0].unitPrice.amount).toBe(order.items[0].product.price.amount);
      expect(order.items[0].unitPrice.amount).toBe(p.price);
      expect(order.total.amount).toBe((Math.round(Number(p.price) * 100) * 3 / 100).toFixed(2));
      await waitForStatus(shop, order.id, 'CONFIRMED', alice);
    });

    it('should reject an order OUT_OF_STOCK and leave the stock untouched', async () => {
      const p = take();
      const before = await stockOf(shop, p.id);
      const order = await place([{ productId: p.id, quantity: before.available + 1 }]);
      const rejected = await waitForStatus(shop, order.id, 'REJECTED', alice);
      expect(rejected).toMatchObject({ rejectionReason: 'OUT_OF_STOCK', payment: { status: 'VOIDED' }, cancellableUntil: null });
      await new Promise((r) => setTimeout(r, 300));
      expect(await stockOf(shop, p.id)).toEqual(before);
    });

    it('should reject a declined payment and release the reservation', async () => {
      const p = take();
      const before = await stockOf(shop, p.id);
      const order = await place([{ productId: p.id, quantity: 1 }], alice, 'tok_chargeDeclined');
      // The charge only happens once inventory has reserved: a declined payment had stock held.
      const rejected = await waitForStatus(shop, order.id, 'REJECTED', alice);
      expect(rejected).toMatchObject({ rejectionReason: 'PAYMENT_DECLINED', payment: { status: 'DECLINED', last4: '0002', declineReason: 'card_declined' } });
      await eventually(async () => JSON.stringify(await stockOf(shop, p.id)) === JSON.stringify(before), 15_000);
    });

    it('should create one order for fifty concurrent identical placeOrder calls', async () => {
      const p = take();
      const input = orderInput([{ productId: p.id, quantity: 1 }]);
      const results = await Promise.all(Array.from({ length: 50 }, () => shop.gql(PLACE_ORDER, { input }, alice)));
      expect(results.flatMap((r) => r.errors ?? [])).toEqual([]);
      const ids = new Set(results.map((r) => r.data.placeOrder.id));
      expect(ids.size).toBe(1);
      const [id] = [...ids] as string[];
      await waitForStatus(shop, id!, 'CONFIRMED', alice);
      const list = await shop.gql(`query($s: OrderStatus) { orders(status: $s, first: 100) { edges { node { id items { product { id } } } } } }`, { s: 'CONFIRMED' }, admin);
      expect(list.data.orders.edges.filter((e: any) => e.node.items[0].product.id === p.id)).toHaveLength(1);
      expect((await stockOf(shop, p.id)).reserved).toBe(1);
    });

    it('should answer CONFLICT when an idempotency key comes back with a different input', async () => {
      const p = take();
      const input = orderInput([{ productId: p.id, quantity: 1 }]);
      const first = await shop.gql(PLACE_ORDER, { input }, alice);
      const again = await shop.gql(PLACE_ORDER, { input }, alice);
      expect(again.data.placeOrder.id).toBe(first.data.placeOrder.id);
      const changed = await shop.gql(PLACE_ORDER, { input: { ...input, items: [{ productId: p.id, quantity: 2 }] } }, alice);
      expect(errorCode(changed)).toBe('CONFLICT');
      expect(changed.errors?.[0]?.extensions?.['field']).toBe('input.idempotencyKey');
    });

    it('should name the field of invalid checkout input', async () => {
      const p = take();
      const res = await shop.gql(PLACE_ORDER, { input: orderInput([{ productId: p.id, quantity: 101 }]) }, alice);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.items[0].quantity' });
      const unknown = await shop.gql(PLACE_ORDER, { input: orderInput([{ productId: randomUUID(), quantity: 1 }]) }, alice);
      expect(unknown.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.items[0].productId' });
      expect(errorCode(await shop.gql(PLACE_ORDER, { input: orderInput([{ productId: p.id, quantity: 1 }]) }))).toBe('UNAUTHENTICATED');
    });
  });
}
