/**
 * The payment webhook settings and the development-only challenge route, with the orders service
 * alone (the whole path through the gateway is e2e/orders/payment-authentication.test.ts).
 */
import type { SettingsOverrides } from '@shop/platform';
import { parseSettings } from '@shop/platform';
import { ordersSettings } from '../src/config';
import type { OrdersHarness } from './support/orders-harness';
import { startOrdersAlone } from './support/orders-harness';

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
