/**
 * Revocation ends live streams at once: an open `myOrderUpdated` over graphql-ws ends with a
 * clear UNAUTHENTICATED error, then `complete`, the moment its session is signed out (the
 * gateway's shared subscription core cuts every stream of the session, whatever the transport);
 * and no event reaches one subscription twice (a cancelled, refunded order: CANCELLED once).
 */
import { eventually } from '@shop/platform/testing';
import { demoProducts, orderInput, PLACE_ORDER, waitForStatus } from '../orders/orders-flow';
import type { DemoProduct } from '../orders/orders-flow';
import { metricsOf, sample, watch } from '../subscriptions/support';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import { LOGOUT, registerAccount } from '../users/support';

const MY_ORDERS = 'subscription { myOrderUpdated { id status } }';

describe('live streams and revoked sessions', () => {
  let shop: TestShop;
  let products: DemoProduct[];
  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process', seed: true });
    products = (await demoProducts(shop)).filter((p) => p.available >= 5);
  }, 90_000);
  afterAll(async () => {
    await shop?.stop();
  });

  const upstreams = async (n: number) => eventually(async () => sample(await metricsOf(shop, 'orders'), 'subgraph_subscriptions_active', { service: 'orders', field: 'myOrderUpdated' }) === n, 15_000);

  it('should end an open myOrderUpdated within a second of logout, with a clear error', async () => {
    const { auth } = await registerAccount(shop);
    const other = await registerAccount(shop);
    const mine = watch(shop, MY_ORDERS, {}, auth.accessToken);
    const theirs = watch(shop, MY_ORDERS, {}, other.auth.accessToken);
    await upstreams(2);
    const placed = await shop.gql(PLACE_ORDER, { input: orderInput([{ productId: products[0]!.id, quantity: 1 }]) }, auth.accessToken);
    expect(placed.errors).toBeUndefined();
    await eventually(() => mine.events.length >= 1, 15_000);

    const loggedOut = await shop.gql(LOGOUT, {}, auth.accessToken);
    expect(loggedOut.data).toEqual({ logout: true });
    const answeredAt = Date.now();
    await eventually(() => mine.completed, 5_000, 5);
    const endedAt = mine.arrivals.at(-1)!;
    expect(mine.events.at(-1)).toEqual({ errors: [expect.objectContaining({ message: expect.stringMatching(/session has ended/), extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })] });
    // The stream ends as the logout answers (the cut happens before the answer is sent), well within a second.
    expect(endedAt - answeredAt).toBeLessThan(1_000);
    // The upstream of that session is released; the other customer's subscription goes on.
    await upstreams(1);
    expect(theirs.completed).toBe(false);
    // The revoked token cannot subscribe again.
    const again = watch(shop, MY_ORDERS, {}, auth.accessToken);
    await eventually(() => again.closes.length > 0 || again.completed, 10_000);
    expect(again.closes[0]?.code ?? 0).toBe(4403);
    await Promise.all([mine.close(), theirs.close(), again.close()]);
  });

  it('should deliver CANCELLED once for an order that is cancelled, then refunded', async () => {
    const { auth } = await registerAccount(shop);
    const mine = watch(shop, MY_ORDERS, {}, auth.accessToken);
    await upstreams(1);
    const placed = await shop.gql(PLACE_ORDER, { input: orderInput([{ productId: products[1]!.id, quantity: 1 }]) }, auth.accessToken);
    expect(placed.errors).toBeUndefined();
    const id = placed.data.placeOrder.id;
    await waitForStatus(shop, id, 'CONFIRMED', auth.accessToken);
    const cancelled = await shop.gql('mutation($id: ID!) { cancelOrder(id: $id) { status } }', { id }, auth.accessToken);
    expect(cancelled.data.cancelOrder.status).toBe('CANCELLED');
    await eventually(async () => (await shop.gql('query($id: ID!) { order(id: $id) { payment { status } } }', { id }, auth.accessToken)).data.order.payment.status === 'REFUNDED', 15_000);
    await eventually(() => mine.events.length >= 3, 15_000);
    // Give a second CANCELLED (from OrderRefunded) every chance to arrive.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(mine.events.map((e) => e.data?.myOrderUpdated.status)).toEqual(['PENDING', 'CONFIRMED', 'CANCELLED']);
    await mine.close();
  });
});
