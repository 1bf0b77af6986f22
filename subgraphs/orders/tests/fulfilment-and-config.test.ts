import { StockReserved } from '@shop/events';
import type { SettingsOverrides } from '@shop/platform';
import { ConfigError, DEVELOPMENT_PII_KEYS, parseSettings } from '@shop/platform';
import { eventually } from '@shop/platform/testing';
import { ordersSettings } from '../src/config';
import type { OrdersHarness } from './support/orders-harness';
import { customer, ORDER, orderInput, PLACE_ORDER, startOrdersAlone } from './support/orders-harness';

/** The orders settings as the platform parses them: typed overrides first, then the environment. */
const parseOrdersSettings = (overrides: SettingsOverrides<typeof ordersSettings.shape>, environment: NodeJS.ProcessEnv) => parseSettings(ordersSettings, overrides, 'test', environment);

describe('the orders settings', () => {
  it('should default every setting and accept numbers and booleans from overrides', () => {
    const defaults = parseOrdersSettings({}, {});
    expect(defaults).toMatchObject({ SAGA_TIMEOUT_MS: 300_000, CANCELLATION_WINDOW_MINUTES: 30, PAYMENT_PROVIDER: 'sandbox', FULFILMENT_SIMULATOR: false });
    expect(parseOrdersSettings({ SAGA_TIMEOUT_MS: 2000, FULFILMENT_SIMULATOR: true, CANCELLATION_WINDOW_MINUTES: 0.5 }, {})).toMatchObject({ SAGA_TIMEOUT_MS: 2000, FULFILMENT_SIMULATOR: true, CANCELLATION_WINDOW_MINUTES: 0.5 });
    // overrides win over the environment, the environment fills the rest.
    expect(parseOrdersSettings({ SAGA_TIMEOUT_MS: 2000 }, { SAGA_TIMEOUT_MS: '9000', PAYMENT_TIMEOUT_MS: '700' })).toMatchObject({ SAGA_TIMEOUT_MS: 2000, PAYMENT_TIMEOUT_MS: 700 });
  });

  it('should name a bad setting in one line', () => {
    expect(() => parseOrdersSettings({}, { CANCELLATION_WINDOW_MINUTES: '-1' })).toThrow(ConfigError);
    expect(() => parseOrdersSettings({}, { PAYMENT_PROVIDER: 'paypal' })).toThrow(/^Invalid configuration: PAYMENT_PROVIDER: .*"paypal"/);
    expect(() => parseOrdersSettings({ FULFILMENT_SIMULATOR: 'maybe' }, {})).toThrow(/FULFILMENT_SIMULATOR/);
  });
});

describe('the orders settings in production (issue 18)', () => {
  const production = (environment: NodeJS.ProcessEnv) => parseSettings(ordersSettings, {}, 'production', environment);
  const keys = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
  const secret = 'a-production-guest-order-token-secret-0123456789';

  it('should refuse to start without PII keys, with the development key, or without a guest token secret', () => {
    expect(() => production({ GUEST_ORDER_TOKEN_SECRET: secret })).toThrow(/^Invalid configuration: PII_ENCRYPTION_KEYS: required in production/);
    expect(() => production({ PII_ENCRYPTION_KEYS: DEVELOPMENT_PII_KEYS, GUEST_ORDER_TOKEN_SECRET: secret })).toThrow(/PII_ENCRYPTION_KEYS: the development key/);
    expect(() => production({ PII_ENCRYPTION_KEYS: keys })).toThrow(/GUEST_ORDER_TOKEN_SECRET: required in production/);
    expect(() => production({ PII_ENCRYPTION_KEYS: keys, GUEST_ORDER_TOKEN_SECRET: 'short' })).toThrow(/GUEST_ORDER_TOKEN_SECRET/);
    expect(production({ PII_ENCRYPTION_KEYS: keys, GUEST_ORDER_TOKEN_SECRET: secret })).toMatchObject({ CART_TTL_DAYS: 7, PII_ENCRYPTION_KEYS: keys });
    // Outside production the development defaults apply.
    expect(parseOrdersSettings({}, {}).PII_ENCRYPTION_KEYS).toBeUndefined();
  });
});

describe('the fulfilment simulator (orders alone)', () => {
  let h: OrdersHarness;
  beforeAll(async () => {
    h = await startOrdersAlone({ FULFILMENT_SIMULATOR: true, FULFILMENT_SHIP_AFTER_MS: 300, FULFILMENT_DELIVER_AFTER_MS: 300 });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('should ship and then deliver a confirmed order by itself, with the same events as an admin', async () => {
    const alice = customer();
    const product = await h.createProduct('3.00');
    const order = (await h.gql(PLACE_ORDER, { input: orderInput([{ productId: product, quantity: 1 }]) }, alice)).data.placeOrder;
    await h.publish(StockReserved, order.id, { orderId: order.id, lines: [{ productId: product, quantity: 1 }] });
    const delivered = await eventually(async () => {
      const o = (await h.gql(ORDER, { id: order.id }, alice)).data.order;
      return o.status === 'DELIVERED' ? o : null;
    }, 15_000);
    expect(delivered.statusHistory.map((s: { status: string }) => s.status)).toEqual(['PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED']);
    expect(delivered.shipment).toMatchObject({ carrier: 'Sandbox Parcel Service', trackingNumber: expect.stringMatching(/^SPS[0-9A-F]{12}$/), deliveredAt: expect.any(String) });
    await eventually(() => h.eventsOf(order.id).length === 5);
    expect(h.eventsOf(order.id)).toEqual(['orders.order-placed.v1', 'orders.payment-succeeded.v1', 'orders.order-confirmed.v1', 'orders.order-shipped.v1', 'orders.order-delivered.v1']);
  });
});
