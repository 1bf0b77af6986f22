/**
 * Runs the Stripe adapter against Stripe's own mock server (github.com/stripe/stripe-mock), which
 * validates every request against Stripe's OpenAPI spec and answers fixtures:
 *
 *   go install github.com/stripe/stripe-mock@latest && stripe-mock -http-port 12111 &
 *   STRIPE_MOCK_URL=http://127.0.0.1:12111 npx tsx subgraphs/orders/tests/support/stripe-mock-check.ts
 *
 * stripe-mock cannot decline (fixtures always succeed); declines, invalid tokens and outages are
 * covered by ../stripe-payment-provider.test.ts and the port contract against a local fake of Stripe's API (support/fake-stripe.ts).
 */
import { StripePaymentProvider } from '../../src/payments/stripe-payment-provider';

async function main(): Promise<void> {
  const provider = new StripePaymentProvider({ apiKey: 'sk_test_123', baseUrl: process.env['STRIPE_MOCK_URL'] ?? 'http://127.0.0.1:12111', webhooks: { secret: 'whsec_unused' } });
  const charge = await provider.charge({ idempotencyKey: 'order-check-charge', amount: '19.99', currencyCode: 'USD', token: 'tok_visa', orderId: 'check' });
  if (charge.outcome !== 'approved') throw new Error(`expected an approved charge, got ${JSON.stringify(charge)}`);
  const refund = await provider.refund({ idempotencyKey: 'order-check-refund', chargeId: charge.chargeId });
  const found = await provider.findCharge('order-check-charge');
  process.stdout.write(`charge ${charge.chargeId} (last4 ${charge.last4}), refund ${refund.refundId}, search found ${found?.outcome ?? 'nothing'}: stripe-mock accepted every request\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`stripe-mock check failed: ${String(error)}\n`);
  process.exit(1);
});
