/**
 * The payment webhook settings and the development-only challenge route, with the orders service
 * alone (the whole path through the gateway is e2e/orders/payment-authentication.test.ts).
 */
import { StockReserved } from '@shop/events';
import type { SettingsOverrides } from '@shop/platform';
import { parseSettings } from '@shop/platform';
import { eventually } from '@shop/platform/testing';
import { ordersSettings } from '../src/config';
import { signedDelivery } from '../src/payments/provider-webhooks';
import { SANDBOX_DEVELOPMENT_WEBHOOK_SECRET } from '../src/payments/sandbox-payment-provider';
import type { OrdersHarness } from './support/orders-harness';
import { customer, ORDER, orderInput, PLACE_ORDER, startOrdersAlone } from './support/orders-harness';

const parse = (overrides: SettingsOverrides<typeof ordersSettings.shape>) => parseSettings(ordersSettings, overrides, 'test', {});

describe('the payment webhook settings', () => {
  it('should ask for the webhook signing secret with Stripe, and default the tolerance to 300 s', () => {
    expect(() => parse({ PAYMENT_PROVIDER: 'stripe', STRIPE_API_KEY: 'sk_test_x' })).toThrow(/^Invalid configuration: PAYMENT_WEBHOOK_SECRET: .*required when PAYMENT_PROVIDER=stripe/);
    expect(parse({ PAYMENT_PROVIDER: 'stripe', STRIPE_API_KEY: 'sk_test_x', PAYMENT_WEBHOOK_SECRET: 'whsec_live_endpoint' })).toMatchObject({ PAYMENT_WEBHOOK_SECRET: 'whsec_live_endpoint', PAYMENT_WEBHOOK_TOLERANCE_SECONDS: 300 });
    expect(() => parse({ PAYMENT_WEBHOOK_TOLERANCE_SECONDS: 0 })).toThrow(/PAYMENT_WEBHOOK_TOLERANCE_SECONDS/);
  });
});

describe('the development-only challenge route', () => {
  let h: OrdersHarness;
  beforeAll(async () => {
    h = await startOrdersAlone(
      { PII_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`, GUEST_ORDER_TOKEN_SECRET: 'a-production-guest-order-token-secret-0123456789' },
      { nodeEnv: 'production' },
    );
  });
  afterAll(async () => {
    await h?.stop();
  });

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(h.service.url.replace(/\/graphql$/, path), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  it('should not exist in production, while the webhook endpoint still refuses unsigned deliveries', async () => {
    expect(h.parts.devSandbox).toBeNull();
    const res = await post('/dev/payments/challenge', JSON.stringify({ clientSecret: 'pi_x_secret_y', outcome: 'succeeded' }));
    expect(res.status).toBe(404);
    const unsigned = await post('/webhooks/payments', JSON.stringify({ id: 'evt_1', type: 'payment_intent.succeeded', data: { object: { id: 'pi_1' } } }));
    expect(unsigned.status).toBe(400);
    expect(await unsigned.json()).toMatchObject({ received: false });
    expect((await h.db.query('SELECT count(*)::int AS n FROM payment_webhook_event')).rows[0].n).toBe(0);
  });
});

describe('a webhook that arrives before the charge answers (orders alone)', () => {
  let h: OrdersHarness;
  beforeAll(async () => {
    h = await startOrdersAlone();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('should confirm the order once, whichever of the webhook and the charge answer comes first', async () => {
    const alice = customer();
    const product = await h.createProduct('12.00', 'Cap');
    const order = (await h.gql(PLACE_ORDER, { input: orderInput([{ productId: product, quantity: 1 }]) }, alice)).data.placeOrder;
    // The charge goes through at the provider, but its answers are lost for a whole round.
    h.sandbox.inject('charge', 'lost-response', 3);
    await h.publish(StockReserved, order.id, { orderId: order.id, lines: [{ productId: product, quantity: 1 }] });
    const [charge] = await eventually(() => (h.sandbox.chargesOf(order.id).length ? h.sandbox.chargesOf(order.id) : null));
    // Stripe also sends payment_intent.succeeded for payments that needed no action.
    const delivery = signedDelivery({ id: 'evt_race_1', type: 'payment_intent.succeeded', object: { id: charge?.chargeId ?? 'missing', object: 'payment_intent', status: 'succeeded', metadata: { order_id: order.id } } }, SANDBOX_DEVELOPMENT_WEBHOOK_SECRET);
    const answer = await fetch(h.service.url.replace(/\/graphql$/, '/webhooks/payments'), { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': delivery.signature }, body: delivery.payload });
    expect(answer.status).toBe(200);
    await eventually(async () => (await h.gql(ORDER, { id: order.id }, alice)).data?.order?.status === 'CONFIRMED', 20_000);
    // Whatever the worker still has in flight ends, and changes nothing more.
    await h.parts.payments.processNow(order.id);
    await eventually(() => h.eventsOf(order.id).includes('orders.order-confirmed.v1'), 10_000);
    const confirmed = (await h.gql(ORDER, { id: order.id }, alice)).data.order;
    expect(confirmed).toMatchObject({ status: 'CONFIRMED', payment: { status: 'CAPTURED' } });
    expect(confirmed.statusHistory.filter((s: { status: string }) => s.status === 'CONFIRMED')).toHaveLength(1);
    expect(h.eventsOf(order.id).filter((t) => t === 'orders.order-confirmed.v1' || t === 'orders.payment-succeeded.v1')).toEqual(['orders.payment-succeeded.v1', 'orders.order-confirmed.v1']);
    expect(h.sandbox.chargesOf(order.id)).toHaveLength(1);
  });
});
