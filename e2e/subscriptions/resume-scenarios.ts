// Resumable subscriptions through the gateway, against the whole shop (issue 22): every event
// carries `extensions.cursor`; a client that drops and subscribes again with
// `extensions.resumeFrom` gets exactly the events it missed, in order, then live ones; a subgraph
// restart (and a gateway restart) loses nothing for it; a cursor past retention ends with
// CURSOR_EXPIRED; a replay never shows another customer's order. Run on each bus by
// resume.<bus>.test.ts.
import { randomUUID } from 'node:crypto';
import { attachSubscriptions } from '@shop/gateway/subscriptions';
import type { HttpSubscriptionTransport } from '@shop/platform/testing';
import { cursorOf, eventually, HTTP_SUBSCRIPTION_TRANSPORTS, resumeAfter, subscribeOverHttp } from '@shop/platform/testing';
import type { DemoProduct } from '../orders/orders-flow';
import { orderInput, PLACE_ORDER, waitForStatus } from '../orders/orders-flow';
import type { BusKind, TestShop } from '../support/harness';
import { startAnotherGateway } from '../support/harness';
import { registerAccount } from '../users/support';
import { ADD, address, CHECKOUT, CREATE_CART, guestContact, ok, SHIP as SHIP_TO } from '../orders/cart-support';
import { ADJUST, metricsOf, sample, subgraphSubscriptions, subscriptionShop, watch } from './support';

const STOCK_CHANGED = 'subscription($ids: [ID!]!) { stockChanged(productIds: $ids) { productId available product { name } } }';
const MY_ORDERS = 'subscription { myOrderUpdated { id status total { amount } } }';
const ORDER_UPDATED = 'subscription($id: ID!) { orderUpdated(orderId: $id) { id status } }';
const LOW_STOCK = 'subscription { lowStockAlert { productId available } }';
const SHIP = 'mutation($id: ID!) { shipOrder(id: $id, carrier: "DHL", trackingNumber: "JD0146000033") { status } }';
const DELIVER = 'mutation($id: ID!) { markDelivered(id: $id) { status } }';

type Transport = 'graphql-ws' | HttpSubscriptionTransport;
const TRANSPORTS: readonly Transport[] = ['graphql-ws', ...HTTP_SUBSCRIPTION_TRANSPORTS];

interface Sub {
  readonly events: Array<{ data?: any; errors?: Array<{ message: string; extensions?: Record<string, any> }>; extensions?: Record<string, any> }>;
  readonly completed: boolean;
  close(): Promise<void>;
}

/** One subscription over `transport` through the gateway at `url`. */
function open(url: string, transport: Transport, query: string, variables: Record<string, unknown>, token?: string, extensions?: Record<string, unknown>): Sub {
  return transport === 'graphql-ws' ? watch(url, query, variables, token, extensions) : subscribeOverHttp(transport, url, query, variables, token, extensions);
}

/** Every resume scenario on one shop with the given bus; `expireLog` removes everything the log holds (retention). */
export function resumeScenarios(bus: BusKind, expireLog: (shop: TestShop) => Promise<void>): void {
  describe(`resumable subscriptions through the gateway (${bus} bus)`, () => {
    const fixture = subscriptionShop(bus, 10);
    let shop: TestShop;
    let admin: string;
    const take = (): DemoProduct => fixture.take();
    beforeAll(() => ({ shop, admin } = fixture));

    const upstreamsOn = (service: 'inventory' | 'orders', field: string, n: number) => subgraphSubscriptions(shop, service, field, n);
    const adjust = async (productId: string, delta: number): Promise<number> => {
      const res = await shop.gql(ADJUST, { id: productId, delta }, admin);
      expect(res.errors).toBeUndefined();
      return res.data.adjustInventory.available as number;
    };
    const available = (sub: Sub): number[] => sub.events.map((e) => e.data?.stockChanged?.available);

    it.each(TRANSPORTS)('should give a stockChanged client that resumes over %s exactly the events it missed, in order, then live ones', async (transport) => {
      const p = take();
      const first = open(shop.url, transport, STOCK_CHANGED, { ids: [p.id] });
      await upstreamsOn('inventory', 'stockChanged', 1);
      const seen = [await adjust(p.id, 2), await adjust(p.id, -1)];
      await eventually(() => first.events.length === 2, 20_000);
      expect(available(first)).toEqual(seen);
      for (const e of first.events) expect(cursorOf(e)).toEqual(expect.any(String));
      const cursor = cursorOf(first.events[1])!;
      await first.close();
      await upstreamsOn('inventory', 'stockChanged', 0);

      // While it is away: three changes of its product, and one of another product.
      const missed = [await adjust(p.id, 3), await adjust(p.id, -2), await adjust(p.id, 1)];
      await adjust(take().id, 1);
      const resumed = open(shop.url, transport, STOCK_CHANGED, { ids: [p.id] }, undefined, resumeAfter(cursor));
      await eventually(() => resumed.events.length >= 3, 30_000);
      await upstreamsOn('inventory', 'stockChanged', 1);
      const live = await adjust(p.id, 4);
      await eventually(() => resumed.events.length >= 4, 20_000);
      // Let a duplicate, if any, arrive before looking.
      await new Promise((r) => setTimeout(r, 500));
      expect(available(resumed)).toEqual([...missed, live]);
      expect(resumed.events.every((e) => e.errors === undefined && e.data.stockChanged.product.name === p.name)).toBe(true);
      const cursors = resumed.events.map(cursorOf);
      expect(new Set(cursors).size).toBe(4);
      await resumed.close();
      await upstreamsOn('inventory', 'stockChanged', 0);
    });

    it('should give many stockChanged clients resuming at once every event, executing the rest of the plan once per event for all of them', async () => {
      // Each resuming client has an upstream subscription of its own; without sharing the rest of
      // the plan (`product { name }` at catalog) across them, every event cost one catalog fetch per
      // client, and 1 000 clients resuming at once got SERVICE_UNAVAILABLE instead of their events
      // (the benchmark's resume scenario).
      const p = take();
      const n = 20;
      const firsts = Array.from({ length: n }, () => open(shop.url, 'graphql-ws', STOCK_CHANGED, { ids: [p.id] }));
      await upstreamsOn('inventory', 'stockChanged', 1);
      await adjust(p.id, 1);
      await eventually(() => firsts.every((s) => s.events.length === 1), 20_000);
      const cursors = firsts.map((s) => cursorOf(s.events[0])!);
      await Promise.all(firsts.map(async (s) => s.close()));
      await upstreamsOn('inventory', 'stockChanged', 0);

      const missed = await adjust(p.id, 2);
      const resumed = cursors.map((cursor) => open(shop.url, 'graphql-ws', STOCK_CHANGED, { ids: [p.id] }, undefined, resumeAfter(cursor)));
      await eventually(() => resumed.every((s) => s.events.length === 1), 60_000);
      await upstreamsOn('inventory', 'stockChanged', n);
      const catalogFetches = async () => sample(await metricsOf(shop, 'gateway'), 'gateway_subgraph_fetch_duration_seconds_count', { subgraph: 'catalog' });
      const before = await catalogFetches();
      const live = await adjust(p.id, 3);
      await eventually(() => resumed.every((s) => s.events.length === 2), 20_000);
      await new Promise((r) => setTimeout(r, 500));
      const fetched = (await catalogFetches()) - before;
      for (const s of resumed) {
        expect(available(s)).toEqual([missed, live]);
        expect(s.events.every((e) => e.errors === undefined && e.data.stockChanged.product.name === p.name)).toBe(true);
      }
      // One execution for the live event (a few if the machine is slow enough that the upstream
      // events arrive after the first execution ended), not one per resumed client.
      expect(fetched).toBeGreaterThan(0);
      expect(fetched).toBeLessThanOrEqual(n / 4);
      await Promise.all(resumed.map(async (s) => s.close()));
    });

    it.each(['graphql-ws', 'multipart'] as const)("should replay only the caller's own orders over %s (myOrderUpdated), checking every replayed event", async (transport) => {
      const p = take();
      const alice = await registerAccount(shop);
      const bob = await registerAccount(shop);
      const first = open(shop.url, transport, MY_ORDERS, {}, alice.auth.accessToken);
      await upstreamsOn('orders', 'myOrderUpdated', 1);
      const mine = (await shop.gql(PLACE_ORDER, { input: orderInput([{ productId: p.id, quantity: 1 }]) }, alice.auth.accessToken)).data.placeOrder;
      await waitForStatus(shop, mine.id, 'CONFIRMED', alice.auth.accessToken);
      await eventually(() => first.events.length === 2, 20_000);
      expect(first.events.map((e) => e.data.myOrderUpdated.status)).toEqual(['PENDING', 'CONFIRMED']);
      const cursor = cursorOf(first.events[1])!;
      await first.close();
      await upstreamsOn('orders', 'myOrderUpdated', 0);

      // While away: Bob's order goes through, and Alice's is shipped and delivered.
      const theirs = (await shop.gql(PLACE_ORDER, { input: orderInput([{ productId: p.id, quantity: 1 }]) }, bob.auth.accessToken)).data.placeOrder;
      await waitForStatus(shop, theirs.id, 'CONFIRMED', bob.auth.accessToken);
      expect((await shop.gql(SHIP, { id: mine.id }, admin)).errors).toBeUndefined();
      expect((await shop.gql(DELIVER, { id: mine.id }, admin)).errors).toBeUndefined();

      const resumed = open(shop.url, transport, MY_ORDERS, {}, alice.auth.accessToken, resumeAfter(cursor));
      await eventually(() => resumed.events.length >= 2, 30_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(resumed.events.map((e) => [e.data.myOrderUpdated.id, e.data.myOrderUpdated.status])).toEqual([
        [mine.id, 'SHIPPED'],
        [mine.id, 'DELIVERED'],
      ]);
      expect(resumed.events[0]!.data.myOrderUpdated.total).toEqual({ amount: mine.total.amount });

      // Alice's cursor in Bob's hands: the replay is checked against Bob, so he sees his own order only.
      const borrowed = open(shop.url, transport, MY_ORDERS, {}, bob.auth.accessToken, resumeAfter(cursor));
      await eventually(() => borrowed.events.length >= 2, 30_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(borrowed.events.map((e) => [e.data.myOrderUpdated.id, e.data.myOrderUpdated.status])).toEqual([
        [theirs.id, 'PENDING'],
        [theirs.id, 'CONFIRMED'],
      ]);
      // And Alice's order by id with her cursor: refused before anything is replayed.
      const intruder = open(shop.url, transport, ORDER_UPDATED, { id: mine.id }, bob.auth.accessToken, resumeAfter(cursor));
      await eventually(() => intruder.events.length > 0 || intruder.completed, 20_000);
      expect(intruder.events[0]?.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
      expect(intruder.events.some((e) => e.data)).toBe(false);
      await Promise.all([resumed.close(), borrowed.close(), intruder.close()]);
      await upstreamsOn('orders', 'myOrderUpdated', 0);
    });

    it('should resume orderUpdated and lowStockAlert (admins only) from their cursors', async () => {
      const p = take();
      const owner = await shop.tokenFor({});
      const order = (await shop.gql(PLACE_ORDER, { input: orderInput([{ productId: p.id, quantity: 1 }]) }, owner)).data.placeOrder;
      await waitForStatus(shop, order.id, 'CONFIRMED', owner);
      const followed = watch(shop, ORDER_UPDATED, { id: order.id }, owner);
      const alerts = watch(shop, LOW_STOCK, {}, admin);
      await upstreamsOn('orders', 'orderUpdated', 1);
      await upstreamsOn('inventory', 'lowStockAlert', 1);
      expect((await shop.gql(SHIP, { id: order.id }, admin)).errors).toBeUndefined();
      const threshold = await shop.gql('mutation($id: ID!) { setLowStockThreshold(productId: $id, threshold: 3) { available } }', { id: p.id }, admin);
      expect(threshold.errors).toBeUndefined();
      await adjust(p.id, -(threshold.data.setLowStockThreshold.available - 2));
      await eventually(() => followed.events.length === 1 && alerts.events.some((e) => e.data?.lowStockAlert.productId === p.id), 20_000);
      const orderCursor = cursorOf(followed.events[0])!;
      const alertCursor = cursorOf(alerts.events.filter((e) => e.data?.lowStockAlert.productId === p.id).at(-1))!;
      await Promise.all([followed.close(), alerts.close()]);
      await upstreamsOn('orders', 'orderUpdated', 0);
      await upstreamsOn('inventory', 'lowStockAlert', 0);

      expect((await shop.gql(DELIVER, { id: order.id }, admin)).errors).toBeUndefined();
      // Back above the threshold (no alert), then below it again (an alert).
      await adjust(p.id, 5);
      await adjust(p.id, -6);
      const resumedOrder = watch(shop, ORDER_UPDATED, { id: order.id }, owner, resumeAfter(orderCursor));
      const resumedAlerts = watch(shop, LOW_STOCK, {}, admin, resumeAfter(alertCursor));
      const customer = watch(shop, LOW_STOCK, {}, owner, resumeAfter(alertCursor));
      await eventually(() => resumedOrder.events.length >= 1 && resumedAlerts.events.some((e) => e.data?.lowStockAlert.productId === p.id) && customer.completed, 30_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(resumedOrder.events.map((e) => e.data.orderUpdated.status)).toEqual(['DELIVERED']);
      expect(resumedAlerts.events.filter((e) => e.data?.lowStockAlert.productId === p.id).map((e) => e.data.lowStockAlert.available)).toEqual([1]);
      expect(customer.events).toHaveLength(1);
      expect(customer.events[0]!.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);
      await Promise.all([resumedOrder.close(), resumedAlerts.close(), customer.close()]);
    });

    it('should resume guestOrderUpdated (the guest link token) over SSE from its cursor', async () => {
      const p = take();
      const cart = ok(await shop.gql(CREATE_CART), 'createCart');
      ok(await shop.gql(ADD, { cartId: cart.id, productId: p.id, quantity: 1 }), 'addToCart');
      const located = ok(await shop.gql(SHIP_TO, { cartId: cart.id, address: address('US') }), 'setCartShipping');
      ok(await shop.gql(SHIP_TO, { cartId: cart.id, address: address('US'), methodId: located.availableShippingMethods[0].id }), 'setCartShipping');
      const order = ok(await shop.gql(CHECKOUT, { input: { cartId: cart.id, email: 'resume.guest@example.com', payment: { token: 'tok_visa' }, idempotencyKey: randomUUID() } }), 'checkout');
      const token = (await guestContact(shop, order.id)).body.token as string;
      const follow = 'subscription($t: String!) { guestOrderUpdated(token: $t) { id status } }';
      await eventually(async () => (await shop.gql('query($t: String!) { guestOrder(token: $t) { status } }', { t: token })).data?.guestOrder?.status === 'CONFIRMED', 20_000);
      const first = open(shop.url, 'sse-distinct', follow, { t: token });
      await upstreamsOn('orders', 'guestOrderUpdated', 1);
      expect((await shop.gql(SHIP, { id: order.id }, admin)).errors).toBeUndefined();
      await eventually(() => first.events.length === 1, 20_000);
      const cursor = cursorOf(first.events[0])!;
      await first.close();
      await upstreamsOn('orders', 'guestOrderUpdated', 0);
      expect((await shop.gql(DELIVER, { id: order.id }, admin)).errors).toBeUndefined();
      const resumed = open(shop.url, 'sse-distinct', follow, { t: token }, undefined, resumeAfter(cursor));
      await eventually(() => resumed.events.length >= 1, 30_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(resumed.events.map((e) => [e.data.guestOrderUpdated.id, e.data.guestOrderUpdated.status])).toEqual([[order.id, 'DELIVERED']]);
      await resumed.close();
    });

    it('should lose nothing across an inventory restart: the gateway resubscribes from its last cursor', async () => {
      const p = take();
      const sub = watch(shop, STOCK_CHANGED, { ids: [p.id] });
      await upstreamsOn('inventory', 'stockChanged', 1);
      const before = await adjust(p.id, 1);
      await eventually(() => sub.events.length === 1, 20_000);
      await shop.supergraph.restart('inventory', 300);
      // Changes at once, before the gateway had a chance to subscribe again on the new replica.
      const during = [await adjust(p.id, 2), await adjust(p.id, -1), await adjust(p.id, 3)];
      await eventually(() => sub.events.length >= 4, 30_000);
      await upstreamsOn('inventory', 'stockChanged', 1);
      const after = await adjust(p.id, -2);
      await eventually(() => sub.events.length >= 5, 20_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(available(sub)).toEqual([before, ...during, after]);
      expect(sub.completed).toBe(false);
      await sub.close();
      await upstreamsOn('inventory', 'stockChanged', 0);
    });

    it('should give a resuming client everything still in the log after both the subgraph and the gateway restarted', async () => {
      const p = take();
      const first = watch(shop, STOCK_CHANGED, { ids: [p.id] });
      await upstreamsOn('inventory', 'stockChanged', 1);
      await adjust(p.id, 1);
      await eventually(() => first.events.length === 1, 20_000);
      const cursor = cursorOf(first.events[0])!;
      await first.close();
      await upstreamsOn('inventory', 'stockChanged', 0);
      const missed = [await adjust(p.id, 2), await adjust(p.id, -3)];
      await shop.supergraph.restart('inventory', 300);
      const gateway = await startAnotherGateway(shop, { attach: attachSubscriptions({ internalAuthSecret: shop.internalAuthSecret }) });
      try {
        const resumed = watch(gateway.url, STOCK_CHANGED, { ids: [p.id] }, undefined, resumeAfter(cursor));
        await eventually(() => resumed.events.length >= 2, 30_000);
        await new Promise((r) => setTimeout(r, 500));
        expect(available(resumed)).toEqual(missed);
        await resumed.close();
      } finally {
        await gateway.stop();
      }
      await upstreamsOn('inventory', 'stockChanged', 0);
    });

    it('should refuse a malformed cursor with BAD_USER_INPUT, and end a cursor past retention with CURSOR_EXPIRED', async () => {
      const p = take();
      const bad = watch(shop, STOCK_CHANGED, { ids: [p.id] }, undefined, resumeAfter('not-a-cursor'));
      await eventually(() => bad.completed, 20_000);
      expect(bad.events).toHaveLength(1);
      expect(bad.events[0]!.data ?? null).toBeNull();
      expect(bad.events[0]!.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'extensions.resumeFrom' }) })]);

      const first = watch(shop, STOCK_CHANGED, { ids: [p.id] });
      await upstreamsOn('inventory', 'stockChanged', 1);
      await adjust(p.id, 1);
      await adjust(p.id, 1);
      // The second change is in the log once it was delivered; then retention removes both.
      await eventually(() => first.events.length === 2, 20_000);
      const cursor = cursorOf(first.events[0])!;
      await first.close();
      await expireLog(shop);
      for (const transport of TRANSPORTS) {
        const old = open(shop.url, transport, STOCK_CHANGED, { ids: [p.id] }, undefined, resumeAfter(cursor));
        await eventually(() => old.completed, 30_000);
        expect(old.events).toHaveLength(1);
        expect(old.events[0]!.data ?? null).toBeNull();
        expect(old.events[0]!.errors).toEqual([expect.objectContaining({ message: expect.stringMatching(/older than the event log retains.*Refetch/), extensions: expect.objectContaining({ code: 'CURSOR_EXPIRED' }) })]);
        await old.close();
      }
    });
  });
}
