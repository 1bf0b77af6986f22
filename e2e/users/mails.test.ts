/**
 * Order mails: users consumes the orders events and mails the order's owner, once per order and
 * kind however often an event is delivered. The events are published straight onto the bus, as
 * the orders service would (its saga is tested in its own scenario).
 */
import { randomUUID } from 'node:crypto';
import { OrderCancelled, OrderConfirmed, OrderShipped } from '@shop/events';
import type { EventDefinition } from '@shop/events';
import { createEnvelope } from '@shop/platform';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import { mailbox, registerAccount, waitForMail } from './support';

describe('order mails', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process' });
  });
  afterAll(async () => {
    await shop?.stop();
  });

  async function publish<T>(event: EventDefinition<T>, key: string, data: T, envelope = createEnvelope('orders', event, key, data)) {
    await shop.bus.publish([{ topic: event.topic, key, value: JSON.stringify(envelope), headers: { 'event-type': event.type } }]);
    return envelope;
  }

  it('should mail the owner when an order is confirmed, shipped and cancelled, once each however often the event comes', async () => {
    const { input, auth } = await registerAccount(shop, { firstName: 'Grace' });
    const email = input.email.toLowerCase();
    const orderId = randomUUID();
    const base = { orderId, number: 'SH-000123', userId: auth.user.id };

    const confirmed = await publish(OrderConfirmed, orderId, { ...base, total: { amount: '129.90', currencyCode: 'EUR' } });
    const mail = await waitForMail(shop, email, 'order-confirmed');
    expect(mail.subject).toBe('Order SH-000123 confirmed');
    expect(mail.text).toContain('Hello Grace,');
    expect(mail.text).toContain('129.90 EUR');

    // The same event again (a redelivery), and the same fact as a new event (a republish).
    await publish(OrderConfirmed, orderId, confirmed.data, confirmed);
    await publish(OrderConfirmed, orderId, confirmed.data);
    await publish(OrderShipped, orderId, { ...base, items: [{ productId: randomUUID(), quantity: 1 }], carrier: 'DHL', trackingNumber: 'JD0146000<b>' });
    const shipped = await waitForMail(shop, email, 'order-shipped');
    expect(shipped.text).toContain('Tracking number: JD0146000<b>');
    expect(shipped.html).toContain('JD0146000&lt;b&gt;');

    await publish(OrderCancelled, orderId, { ...base, reason: 'changed my mind', refunded: true });
    const cancelled = await waitForMail(shop, email, 'order-cancelled');
    expect(cancelled.text).toContain('(changed my mind)');
    expect(cancelled.text).toContain('refunded');

    // Every event above was handled by now (in order, per order id): one mail per kind.
    const templates = (await mailbox(shop, email)).map((m) => m.template).sort();
    expect(templates).toEqual(['order-cancelled', 'order-confirmed', 'order-shipped', 'welcome']);
  });

  it('should skip orders of users it does not know and keep going', async () => {
    const { input, auth } = await registerAccount(shop);
    // One key for both, so they share a partition: the second is handled after the first.
    const key = randomUUID();
    await publish(OrderConfirmed, key, { orderId: randomUUID(), number: 'SH-404', userId: randomUUID(), total: { amount: '1.00', currencyCode: 'USD' } });
    await publish(OrderConfirmed, key, { orderId: randomUUID(), number: 'SH-200', userId: auth.user.id, total: { amount: '2.00', currencyCode: 'USD' } });
    expect((await waitForMail(shop, input.email.toLowerCase(), 'order-confirmed')).subject).toBe('Order SH-200 confirmed');
    expect((await mailbox(shop)).filter((m) => m.subject.includes('SH-404'))).toEqual([]);
  });

  it('should serve the development mailbox as JSON, filtered by recipient', async () => {
    const { input } = await registerAccount(shop);
    const base = shop.supergraph.services.users.url.replace(/\/graphql$/, '');
    await waitForMail(shop, input.email.toLowerCase(), 'welcome');
    const res = await fetch(`${base}/dev/mailbox?to=${encodeURIComponent(input.email.toUpperCase())}`);
    expect(res.headers.get('content-type')).toContain('application/json');
    const { messages } = (await res.json()) as { messages: Array<{ to: string; from: string; subject: string; messageId: string }> };
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ to: input.email.toLowerCase(), from: 'Shop <no-reply@shop.local>', subject: 'Welcome to the Shop' });
    expect(messages[0]!.messageId).toMatch(/^<[0-9a-f]{32}@users\.shop\.local>$/);
  });
});
