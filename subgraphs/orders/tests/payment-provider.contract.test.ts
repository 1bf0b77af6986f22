/**
 * One contract for every adapter of the payment port: the sandbox, and the Stripe adapter (the
 * official SDK) against the local fake of Stripe's HTTP API. Intents, 3-D Secure, signed webhooks,
 * refunds and idempotency must behave the same, or the saga would not.
 */
import { randomUUID } from 'node:crypto';
import type { PaymentProvider } from '../src/payments/payment-provider';
import { WebhookSignatureError } from '../src/payments/payment-provider';
import { signedDelivery } from '../src/payments/provider-webhooks';
import { SandboxPaymentProvider } from '../src/payments/sandbox-payment-provider';
import { StripePaymentProvider } from '../src/payments/stripe-payment-provider';
import { FakeStripe } from './support/fake-stripe';

interface Subject {
  readonly provider: PaymentProvider;
  /** The customer's challenge, played with the client library; answers the provider's signed webhook delivery. */
  complete(clientSecret: string, outcome: 'succeeded' | 'failed'): { payload: string; signature: string };
  stop(): Promise<void>;
}

const SECRET = 'whsec_contract_test_secret';

const subjects: Array<[string, () => Promise<Subject>]> = [
  [
    'the sandbox',
    async () => {
      const sandbox = new SandboxPaymentProvider({ latencyMs: 0, webhooks: { secret: SECRET } });
      return { provider: sandbox, complete: (cs, outcome) => sandbox.completeChallenge(cs, outcome), stop: async () => undefined };
    },
  ],
  [
    'the Stripe adapter against a local fake of Stripe',
    async () => {
      const fake = new FakeStripe('sk_test_contract', SECRET);
      const baseUrl = await fake.start();
      return { provider: new StripePaymentProvider({ apiKey: 'sk_test_contract', baseUrl, webhooks: { secret: SECRET } }), complete: (cs, outcome) => fake.completeChallenge(cs, outcome), stop: () => fake.stop() };
    },
  ],
];

describe.each(subjects)('the payment port contract: %s', (_name, make) => {
  let subject: Subject;
  beforeAll(async () => {
    subject = await make();
  });
  afterAll(async () => {
    await subject.stop();
  });

  const charge = (token: string, key = `order-${randomUUID()}-charge`, orderId = randomUUID()) => subject.provider.charge({ idempotencyKey: key, amount: '59.98', currencyCode: 'USD', token, orderId });
  const webhook = (delivery: { payload: string; signature: string }) => subject.provider.parseWebhook(Buffer.from(delivery.payload), delivery.signature);

  it('should approve a good card with its last four digits, and answer the same payment again for the same idempotency key', async () => {
    const key = `order-${randomUUID()}-charge`;
    const first = await charge('tok_visa', key);
    expect(first).toEqual({ outcome: 'approved', chargeId: expect.any(String), last4: '4242' });
    expect(await charge('tok_visa', key)).toEqual(first);
    expect(await subject.provider.findCharge(key)).toEqual(first);
    expect(await subject.provider.findCharge(`order-${randomUUID()}-charge`)).toBeNull();
  });

  it('should decline a declined card and name an unknown token invalid_token', async () => {
    expect(await charge('tok_chargeDeclined')).toMatchObject({ outcome: 'declined', reason: 'card_declined' });
    expect(await charge('tok_unknown')).toEqual({ outcome: 'declined', chargeId: null, last4: null, reason: 'invalid_token' });
  });

  it('should ask for 3-D Secure, then confirm the payment by a signed webhook once the challenge succeeds', async () => {
    const key = `order-${randomUUID()}-charge`;
    const orderId = randomUUID();
    const asked = await charge('tok_threeDSecureRequired', key, orderId);
    if (asked.outcome !== 'requires_action') throw new Error(`expected requires_action, got ${asked.outcome}`);
    expect(asked.nextAction.type).toBe('THREE_D_SECURE');
    expect(asked.nextAction.clientSecret ?? asked.nextAction.redirectUrl).toEqual(expect.any(String));
    expect(await subject.provider.findCharge(key)).toMatchObject({ outcome: 'requires_action', chargeId: asked.chargeId });

    const event = webhook(subject.complete(asked.nextAction.clientSecret!, 'succeeded'));
    expect(event).toEqual({ id: expect.any(String), outcome: 'succeeded', chargeId: asked.chargeId, orderId, last4: '3155', reason: null });
    expect(await subject.provider.findCharge(key)).toEqual({ outcome: 'approved', chargeId: asked.chargeId, last4: '3155' });
    // A retry of the charge with its key answers the payment as it is now, never a second one.
    expect(await charge('tok_threeDSecureRequired', key, orderId)).toMatchObject({ chargeId: asked.chargeId });
  });

  it('should report a failed challenge as authentication_failed', async () => {
    const asked = await charge('tok_threeDSecureRequired');
    if (asked.outcome !== 'requires_action') throw new Error(`expected requires_action, got ${asked.outcome}`);
    expect(webhook(subject.complete(asked.nextAction.clientSecret!, 'failed'))).toMatchObject({ outcome: 'failed', chargeId: asked.chargeId, reason: 'authentication_failed' });
  });

  it('should refuse a webhook that is unsigned, signed with another secret or signed too long ago', async () => {
    const asked = await charge('tok_threeDSecureRequired');
    if (asked.outcome !== 'requires_action') throw new Error(`expected requires_action, got ${asked.outcome}`);
    const genuine = subject.complete(asked.nextAction.clientSecret!, 'succeeded');
    expect(() => subject.provider.parseWebhook(Buffer.from(genuine.payload), undefined)).toThrow(WebhookSignatureError);
    const event = JSON.parse(genuine.payload) as { id: string; type: string; data: { object: { id: string } } };
    const forged = signedDelivery({ id: event.id, type: event.type, object: event.data.object }, 'whsec_someone_else');
    expect(() => webhook(forged)).toThrow(WebhookSignatureError);
    const old = signedDelivery({ id: event.id, type: event.type, object: event.data.object }, SECRET, Math.floor(Date.now() / 1000) - 3_600);
    expect(() => webhook(old)).toThrow(WebhookSignatureError);
    // A body changed after signing does not verify either.
    expect(() => subject.provider.parseWebhook(Buffer.from(genuine.payload.replace('succeeded', 'failed')), genuine.signature)).toThrow(WebhookSignatureError);
    expect(webhook(genuine)).toMatchObject({ outcome: 'succeeded' });
  });

  it('should refund a captured payment once per idempotency key', async () => {
    const approved = await charge('tok_visa');
    if (approved.outcome !== 'approved') throw new Error('expected an approval');
    const key = `order-${randomUUID()}-refund`;
    const first = await subject.provider.refund({ idempotencyKey: key, chargeId: approved.chargeId });
    expect(first.refundId).toEqual(expect.any(String));
    expect(await subject.provider.refund({ idempotencyKey: key, chargeId: approved.chargeId })).toEqual(first);
  });
});
