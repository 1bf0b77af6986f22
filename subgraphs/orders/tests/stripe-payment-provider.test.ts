/**
 * What the Stripe adapter sends, against the local fake of Stripe's API (support/fake-stripe.ts):
 * PaymentIntents created and confirmed at once in minor units with the card token, the idempotency
 * key as header and metadata, partial refunds in minor units, a redirect URL when a return URL is
 * set, and outages as "unavailable" (retry later with the same key). The behaviour the saga relies
 * on is the port contract (payment-provider.contract.test.ts), shared with the sandbox.
 */
import { PaymentProviderUnavailableError } from '../src/payments/payment-provider';
import { StripePaymentProvider } from '../src/payments/stripe-payment-provider';
import { FakeStripe } from './support/fake-stripe';

describe('the Stripe payment provider (official SDK, local fake of the API)', () => {
  const stripe = new FakeStripe('sk_test_fake', 'whsec_test');
  let baseUrl: string;
  let provider: StripePaymentProvider;
  beforeAll(async () => {
    baseUrl = await stripe.start();
    provider = new StripePaymentProvider({ apiKey: 'sk_test_fake', baseUrl, webhooks: { secret: 'whsec_test' } });
  });
  afterAll(async () => {
    await stripe.stop();
  });

  const request = (key: string, token = 'tok_visa', amount = '19.99') => ({ idempotencyKey: key, amount, currencyCode: 'USD', token, orderId: 'o-1' });

  it('should create and confirm a PaymentIntent in minor units with the token, the idempotency key as header and metadata', async () => {
    const result = await provider.charge(request('k-1'));
    expect(result).toMatchObject({ outcome: 'approved', last4: '4242' });
    const sent = stripe.requests.at(-1)!;
    expect(sent.path).toBe('/v1/payment_intents');
    expect(sent.headers['authorization']).toBe('Bearer sk_test_fake');
    expect(sent.headers['idempotency-key']).toBe('k-1');
    expect(sent.form).toMatchObject({
      amount: '1999',
      currency: 'usd',
      confirm: 'true',
      'payment_method_data[type]': 'card',
      'payment_method_data[card][token]': 'tok_visa',
      'metadata[order_id]': 'o-1',
      'metadata[idempotency_key]': 'k-1',
    });
    expect(sent.form['return_url']).toBeUndefined();
  });

  it('should answer the first PaymentIntent again for a retried key, without a second one', async () => {
    const before = stripe.intents.length;
    const again = await provider.charge(request('k-1'));
    expect(again).toMatchObject({ outcome: 'approved', chargeId: stripe.intents[0]!.id });
    expect(stripe.intents).toHaveLength(before);
  });

  it('should give a redirect URL for the challenge when a return URL is configured', async () => {
    const withReturn = new StripePaymentProvider({ apiKey: 'sk_test_fake', baseUrl, webhooks: { secret: 'whsec_test' }, returnUrl: 'https://shop.example.com/checkout/done' });
    const result = await withReturn.charge(request('k-3ds', 'tok_threeDSecureRequired'));
    expect(result).toMatchObject({ outcome: 'requires_action', nextAction: { type: 'THREE_D_SECURE', clientSecret: expect.stringMatching(/^pi_.*_secret_/), redirectUrl: expect.stringContaining('https://hooks.stripe.com/') } });
    expect(stripe.requests.at(-1)!.form['return_url']).toBe('https://shop.example.com/checkout/done');
  });

  it('should refund part of a payment in minor units, then the rest, and never more', async () => {
    const paid = await provider.charge(request('k-partial', 'tok_visa', '50.00'));
    if (paid.outcome !== 'approved') throw new Error('expected an approval');
    await provider.refund({ idempotencyKey: 'r-part-1', chargeId: paid.chargeId, amount: '12.34' });
    expect(stripe.requests.at(-1)!.form).toEqual({ payment_intent: paid.chargeId, amount: '1234' });
    expect(stripe.requests.at(-1)!.headers['idempotency-key']).toBe('r-part-1');
    await provider.refund({ idempotencyKey: 'r-part-2', chargeId: paid.chargeId });
    expect(stripe.requests.at(-1)!.form).toEqual({ payment_intent: paid.chargeId });
    expect(stripe.intents.find((i) => i.id === paid.chargeId)!.refunded).toBe(5000);
    // Refunded in full already: the adapter reports it done, not an error.
    expect(await provider.refund({ idempotencyKey: 'r-part-3', chargeId: paid.chargeId })).toEqual({ refundId: `already-refunded:${paid.chargeId}` });
  });

  it('should call 5xx, 429 and 409 answers and a closed port unavailable (retry later with the same key)', async () => {
    for (const status of [500, 503, 429, 409]) {
      stripe.failNext = [status];
      await expect(provider.charge(request(`k-${status}`))).rejects.toBeInstanceOf(PaymentProviderUnavailableError);
    }
    const nowhere = new StripePaymentProvider({ apiKey: 'sk_test_fake', baseUrl: 'http://127.0.0.1:9', webhooks: { secret: 'whsec_test' } });
    await expect(nowhere.findCharge('k-1')).rejects.toBeInstanceOf(PaymentProviderUnavailableError);
  });

  it('should refuse a wrong API key as an error, not as a decline', async () => {
    const wrong = new StripePaymentProvider({ apiKey: 'sk_test_wrong', baseUrl, webhooks: { secret: 'whsec_test' } });
    await expect(wrong.charge(request('k-wrong'))).rejects.toThrow(/authentication_error|401/);
  });
});
