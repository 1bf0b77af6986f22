/** The saga timeout and the cancellation window, with inventory stopped and restarted. Run on both buses (saga-timeout.*.test.ts), one file per bus. */
import { ORDERS_ORDER_TOPIC } from '@shop/events';
import type { Consumer, EventEnvelope } from '@shop/platform';
import { eventually, uniqueName } from '@shop/platform/testing';
import { Pool } from 'pg';
import type { BusKind, TestShop } from '../support/harness';
import { errorCode, startTestShop } from '../support/harness';
import type { DemoProduct } from './orders-flow';
import { demoProducts, orderInput, PLACE_ORDER, stockOf, waitForStatus } from './orders-flow';

/**
 * A saga timeout of 10 s and a cancellation window of 60 ms (0.001 min), so both can be watched
 * running out. The timeout must outlast the four requests order B takes while inventory is down
 * (placed, refused, cancelled by an admin) on a loaded machine: at 2 s, the sweeper sometimes
 * rejected B first.
 */
const ORDERS_SETTINGS = { SAGA_TIMEOUT_MS: 10_000, SAGA_SWEEP_INTERVAL_MS: 200, CANCELLATION_WINDOW_MINUTES: 0.001 };

export function describeSagaTimeout(bus: BusKind): void {
  describe(`orders through the gateway: saga timeout and cancellation window (${bus} bus)`, () => {
    let shop: TestShop;
    let products: DemoProduct[];
    let probe: Consumer;
    const published: EventEnvelope<any>[] = [];

    beforeAll(async () => {
      shop = await startTestShop({ bus, seed: true, settings: { orders: ORDERS_SETTINGS } });
      products = (await demoProducts(shop, 2)).filter((p) => p.available >= 1);
      // Records orders' events, to know when inventory has handled each of them.
      probe = await shop.bus.subscribe({ groupId: uniqueName('orders-probe'), topics: [ORDERS_ORDER_TOPIC], handle: async (m) => void published.push(JSON.parse(m.value)) });
    });
    afterAll(async () => {
      await probe?.stop();
      await shop?.stop();
    });

    it('should refuse the owner a cancellation after the window, let an admin cancel, and reject and compensate a saga inventory never answers', async () => {
      const alice = await shop.tokenFor({});
      const admin = await shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] });
      const [late, silent] = [products[0]!, products[1]!];
      const before = { late: await stockOf(shop, late.id), silent: await stockOf(shop, silent.id) };

      await shop.supergraph.stopService('inventory');

      // The window: 60 ms after placing, the owner may no longer cancel; an admin may until shipping.
      const placed = await shop.gql(PLACE_ORDER, { input: orderInput([{ productId: late.id, quantity: 1 }]) }, alice);
      const b = placed.data.placeOrder;
      expect(Date.parse(b.cancellableUntil) - Date.parse(b.createdAt)).toBe(60);
      await new Promise((r) => setTimeout(r, 100));
      const refused = await shop.gql(`mutation($id: ID!) { cancelOrder(id: $id) { status } }`, { id: b.id }, alice);
      expect(errorCode(refused)).toBe('CONFLICT');
      expect(refused.errors?.[0]?.extensions?.['cancellableUntil']).toBe(b.cancellableUntil);
      const byAdmin = await shop.gql(`mutation($id: ID!) { cancelOrder(id: $id, reason: "customer called") { status payment { status } } }`, { id: b.id }, admin);
      expect(byAdmin.data.cancelOrder).toEqual({ status: 'CANCELLED', payment: { status: 'VOIDED' } });

      // The timeout: nobody answers order A, so the sweeper rejects it after 10 s and tells inventory to release.
      const a = (await shop.gql(PLACE_ORDER, { input: orderInput([{ productId: silent.id, quantity: 2 }]) }, alice)).data.placeOrder;
      const rejected = await waitForStatus(shop, a.id, 'REJECTED', alice, 60_000);
      expect(rejected).toMatchObject({ rejectionReason: 'INVENTORY_TIMEOUT', payment: { status: 'VOIDED' } });
      expect(rejected.statusHistory).toEqual([{ status: 'PENDING', reason: null }, { status: 'REJECTED', reason: 'INVENTORY_TIMEOUT' }]);
      const history = (await shop.gql(`query($id: ID!) { order(id: $id) { statusHistory { status at } } }`, { id: a.id }, alice)).data.order.statusHistory;
      expect(Date.parse(history[1].at) - Date.parse(a.createdAt)).toBeGreaterThanOrEqual(ORDERS_SETTINGS.SAGA_TIMEOUT_MS);

      // Inventory comes back, catches up with placed → (reserve) and rejected/cancelled → (release): nothing stays held.
      await shop.supergraph.startService('inventory');
      const ids = await eventually(() => {
        const mine = published.filter((e) => e.key === a.id || e.key === b.id);
        return mine.length >= 4 ? mine.map((e) => e.id) : null;
      }, 20_000);
      expect(published.filter((e) => e.key === a.id).map((e) => [e.type, e.data.reason, e.data.stockWasReserved])).toEqual([
        ['orders.order-placed.v1', undefined, undefined],
        ['orders.order-rejected.v1', 'INVENTORY_TIMEOUT', true],
      ]);
      const inventoryDb = new Pool({ connectionString: shop.databaseUrl('inventory'), max: 1 });
      try {
        await eventually(async () => (await inventoryDb.query(`SELECT count(*)::int AS n FROM inbox WHERE consumer = 'inventory' AND event_id = ANY($1)`, [ids])).rows[0].n === ids.length, 30_000, 200);
      } finally {
        await inventoryDb.end();
      }
      expect(await stockOf(shop, silent.id)).toEqual(before.silent);
      expect(await stockOf(shop, late.id)).toEqual(before.late);
      expect((await shop.gql(`query($id: ID!) { order(id: $id) { status } }`, { id: a.id }, alice)).data.order.status).toBe('REJECTED');
    }, 180_000);
  });
}
