/**
 * Payments that need strong customer authentication (issue 19), through the gateway of a whole
 * shop with the sandbox provider: `tok_threeDSecureRequired` leaves the order PENDING with
 * `payment.status` REQUIRES_ACTION and `payment.nextAction`; the development-only challenge route
 * makes the sandbox deliver its signed webhook to orders' endpoint, and the saga goes on from it.
 * Webhooks sent by the test go through the gateway's public `/webhooks/payments`. Run on both
 * buses (payment-authentication.*.test.ts), one file per bus.
 */
import { createHmac } from 'node:crypto';
import { ORDERS_ORDER_TOPIC } from '@shop/events';
import type { Consumer, EventEnvelope } from '@shop/platform';
import { eventually, uniqueName } from '@shop/platform/testing';
import { Pool } from 'pg';
import type { BusKind, TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import { registerAccount, waitForMail } from '../users/support';
import type { DemoProduct } from './orders-flow';
import { demoProducts, ORDER, stockOf, waitForStatus } from './orders-flow';
import { orderInput } from './orders-flow';

const SECRET = 'whsec_e2e_payment_authentication';
/** Long enough for the challenges below on a loaded machine; the timeout scenario waits it out once. */
const ORDERS_SETTINGS = { SAGA_TIMEOUT_MS: 15_000, SAGA_SWEEP_INTERVAL_MS: 200, PAYMENT_SANDBOX_LATENCY_MS: 5, PAYMENT_WEBHOOK_SECRET: SECRET };
const PLACE = `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id status total { amount } } }`;
const PAYMENT = `query($id: ID!) { order(id: $id) { status rejectionReason statusHistory { status reason } payment { status last4 declineReason nextAction { type clientSecret redirectUrl } } } }`;

/** A delivery signed as Stripe signs (`t=<seconds>,v1=<HMAC-SHA256 of "t.body">`), written here independently of the code under test. */
function sign(payload: string, secret: string, at = Math.floor(Date.now() / 1000)): string {
  return `t=${at},v1=${createHmac('sha256', secret).update(`${at}.${payload}`).digest('hex')}`;
}

export function describePaymentAuthentication(bus: BusKind): void {
  describe(`orders through the gateway: payments with 3-D Secure and provider webhooks (${bus} bus)`, () => {
    let shop: TestShop;
    let products: DemoProduct[];
    let probe: Consumer;
    let ordersDb: Pool;
    const published: EventEnvelope<any>[] = [];

    beforeAll(async () => {
      shop = await startTestShop({ bus, seed: true, settings: { orders: ORDERS_SETTINGS } });
      products = (await demoProducts(shop, 4)).filter((p) => p.available >= 2);
      probe = await shop.bus.subscribe({ groupId: uniqueName('payments-probe'), topics: [ORDERS_ORDER_TOPIC], handle: async (m) => void published.push(JSON.parse(m.value)) });
      ordersDb = new Pool({ connectionString: shop.databaseUrl('orders'), max: 1 });
    });
    afterAll(async () => {
      await ordersDb?.end();
      await probe?.stop();
      await shop?.stop();
    });

    const ordersBase = () => shop.supergraph.services.orders.url.replace(/\/graphql$/, '');
    const webhookUrl = () => new URL('/webhooks/payments', shop.url).toString();

    /** The customer's challenge, played through the sandbox's development-only route. */
    async function challenge(clientSecret: string, outcome: 'succeeded' | 'failed', deliver = true): Promise<any> {
      const res = await fetch(`${ordersBase()}/dev/payments/challenge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clientSecret, outcome, deliver }) });
      expect(res.status).toBe(200);
      return res.json();
    }

    async function postWebhook(payload: string, signature?: string): Promise<{ status: number; body: any }> {
      const res = await fetch(webhookUrl(), { method: 'POST', headers: { 'content-type': 'application/json', ...(signature ? { 'stripe-signature': signature } : {}) }, body: payload });
      return { status: res.status, body: await res.json() };
    }

    /** Places an order paid with the 3-D Secure card and waits until its payment asks for action. */
    async function placeNeedingAction(token: string, product: DemoProduct, quantity = 1): Promise<{ id: string; total: string; payment: any }> {
      const placed = await shop.gql(PLACE, { input: orderInput([{ productId: product.id, quantity }], { token: 'tok_threeDSecureRequired' }) }, token);
      expect(placed.errors).toBeUndefined();
      expect(placed.data.placeOrder.status).toBe('PENDING');
      const order = await eventually(async () => {
        const res = await shop.gql(PAYMENT, { id: placed.data.placeOrder.id }, token);
        return res.data?.order?.payment?.status === 'REQUIRES_ACTION' ? res.data.order : null;
      }, 30_000, 100);
      expect(order.status).toBe('PENDING');
      return { id: placed.data.placeOrder.id, total: placed.data.placeOrder.total.amount, payment: order.payment };
    }

    const eventsOf = (orderId: string, type: string) => published.filter((e) => e.key === orderId && e.type === type);

    it('should leave the order PENDING with REQUIRES_ACTION and a client secret, mail the customer, and confirm it once the challenge succeeds', async () => {
      const { input, auth } = await registerAccount(shop);
      const product = products[0]!;
      const before = await stockOf(shop, product.id);
      const order = await placeNeedingAction(auth.accessToken, product, 2);
      expect(order.payment).toEqual({ status: 'REQUIRES_ACTION', last4: '3155', declineReason: null, nextAction: { type: 'THREE_D_SECURE', clientSecret: expect.stringMatching(/^pi_sandbox_.+_secret_.+/), redirectUrl: null } });
      expect((await stockOf(shop, product.id)).reserved).toBe(before.reserved + 2);
      const mail = await waitForMail(shop, input.email, 'payment-action-required');
      expect(mail.subject).toContain('please confirm your payment');
      // No secret of the payment ever travels in an event or a mail.
      expect(JSON.stringify(eventsOf(order.id, 'orders.payment-action-required.v1'))).not.toContain(order.payment.nextAction.clientSecret);
      expect(mail.text).not.toContain(order.payment.nextAction.clientSecret);

      const answer = await challenge(order.payment.nextAction.clientSecret, 'succeeded');
      expect(answer).toMatchObject({ webhookStatus: 200, webhook: { received: true, duplicate: false } });
      const confirmed = await waitForStatus(shop, order.id, 'CONFIRMED', auth.accessToken, 30_000);
      expect(confirmed.payment).toMatchObject({ status: 'CAPTURED', last4: '3155' });
      expect((await shop.gql(PAYMENT, { id: order.id }, auth.accessToken)).data.order.payment.nextAction).toBeNull();
      const succeeded = await eventually(() => eventsOf(order.id, 'orders.payment-succeeded.v1')[0] ?? null, 20_000);
      expect(succeeded.data).toEqual({ orderId: order.id, provider: 'sandbox', paymentId: expect.stringMatching(/^pi_sandbox_/), amountMinor: Math.round(Number(order.total) * 100), currencyCode: 'USD', succeededAt: expect.any(String) });
      expect(eventsOf(order.id, 'orders.payment-action-required.v1')).toHaveLength(1);
      expect((await stockOf(shop, product.id)).reserved).toBe(before.reserved + 2);
    });

    it('should reject the order with PAYMENT_DECLINED and release its stock when the challenge fails', async () => {
      const token = await shop.tokenFor({});
      const product = products[1]!;
      const before = await stockOf(shop, product.id);
      const order = await placeNeedingAction(token, product);
      await challenge(order.payment.nextAction.clientSecret, 'failed');
      const rejected = await waitForStatus(shop, order.id, 'REJECTED', token, 30_000);
      expect(rejected).toMatchObject({ rejectionReason: 'PAYMENT_DECLINED', payment: { status: 'DECLINED', declineReason: 'authentication_failed' } });
      const failed = await eventually(() => eventsOf(order.id, 'orders.payment-failed.v1')[0] ?? null, 20_000);
      expect(failed.data).toMatchObject({ orderId: order.id, reason: 'authentication_failed', amountMinor: Math.round(Number(order.total) * 100), currencyCode: 'USD' });
      await eventually(async () => JSON.stringify(await stockOf(shop, product.id)) === JSON.stringify(before), 30_000, 200);
    });

    it('should ignore a webhook that is unsigned, badly signed or signed too long ago, and apply a replayed one once', async () => {
      const token = await shop.tokenFor({});
      const order = await placeNeedingAction(token, products[2]!);
      // The provider's genuine delivery, not sent yet: the test sends it (and forgeries of it) itself.
      const genuine = (await challenge(order.payment.nextAction.clientSecret, 'succeeded', false)) as { eventId: string; payload: string; signature: string };
      const received = async () => (await ordersDb.query('SELECT count(*)::int AS n FROM payment_webhook_event WHERE event_id = $1', [genuine.eventId])).rows[0].n as number;

      expect((await postWebhook(genuine.payload)).status).toBe(400);
      expect((await postWebhook(genuine.payload, sign(genuine.payload, 'whsec_not_the_secret'))).status).toBe(400);
      expect((await postWebhook(genuine.payload, sign(genuine.payload, SECRET, Math.floor(Date.now() / 1000) - 3_600))).status).toBe(400);
      expect((await postWebhook(genuine.payload.replace('"succeeded"', '"failed"'), genuine.signature)).status).toBe(400);
      expect(await received()).toBe(0);
      const still = (await shop.gql(PAYMENT, { id: order.id }, token)).data.order;
      expect(still).toMatchObject({ status: 'PENDING', payment: { status: 'REQUIRES_ACTION' } });

      expect(await postWebhook(genuine.payload, genuine.signature)).toEqual({ status: 200, body: { received: true, duplicate: false } });
      expect(await postWebhook(genuine.payload, genuine.signature)).toEqual({ status: 200, body: { received: true, duplicate: true } });
      await waitForStatus(shop, order.id, 'CONFIRMED', token, 30_000);
      expect(await postWebhook(genuine.payload, genuine.signature)).toEqual({ status: 200, body: { received: true, duplicate: true } });
      expect(await received()).toBe(1);
      await eventually(() => eventsOf(order.id, 'orders.order-confirmed.v1').length > 0, 20_000);
      const after = (await shop.gql(ORDER, { id: order.id }, token)).data.order;
      expect(after.statusHistory.filter((h: { status: string }) => h.status === 'CONFIRMED')).toHaveLength(1);
      expect(eventsOf(order.id, 'orders.payment-succeeded.v1')).toHaveLength(1);
    });

    it('should reject the order with PAYMENT_TIMEOUT and release its stock when the challenge is never completed', async () => {
      const token = await shop.tokenFor({});
      const product = products[3] ?? products[0]!;
      const before = await stockOf(shop, product.id);
      const order = await placeNeedingAction(token, product);
      const rejected = await waitForStatus(shop, order.id, 'REJECTED', token, 90_000);
      expect(rejected).toMatchObject({ rejectionReason: 'PAYMENT_TIMEOUT', payment: { status: 'VOIDED' } });
      await eventually(async () => JSON.stringify(await stockOf(shop, product.id)) === JSON.stringify(before), 30_000, 200);
      // A challenge completed after the timeout is refunded: the order stays REJECTED, nothing is kept.
      await challenge(order.payment.nextAction.clientSecret, 'succeeded');
      await eventually(async () => (await shop.gql(ORDER, { id: order.id }, token)).data.order.payment.status === 'REFUNDED', 30_000, 200);
      expect((await shop.gql(ORDER, { id: order.id }, token)).data.order.status).toBe('REJECTED');
    });
  });
}
