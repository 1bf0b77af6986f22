/**
 * Webhooks in Stripe's format, for both adapters: the `Stripe-Signature` scheme (HMAC-SHA256 of
 * `<timestamp>.<raw body>` with the endpoint's signing secret, a timestamp checked against a
 * tolerance window) verified by the official SDK (`Stripe.webhooks.constructEvent`), and the two
 * PaymentIntent events the saga needs. The sandbox signs its own deliveries the same way, so the
 * whole path (endpoint, verification, inbox, saga) runs offline exactly as it does with Stripe.
 */
import Stripe from 'stripe';
import type { DeclineReason, PaymentWebhookEvent } from './payment-provider';
import { WebhookSignatureError } from './payment-provider';

/** The header a provider signs its deliveries with. */
export const WEBHOOK_SIGNATURE_HEADER = 'stripe-signature';

/** What verification needs: the endpoint's signing secret and how old a signature may be. */
export interface WebhookVerification {
  /** The signing secret of the webhook endpoint (`whsec_…` at Stripe). */
  readonly secret: string;
  /** Oldest accepted signature timestamp, in seconds before now. Default 300 (Stripe's own default). */
  readonly toleranceSeconds?: number;
}

/** The parts of a PaymentIntent a webhook event carries that the saga reads. */
export interface IntentObject {
  readonly id: string;
  readonly object?: string;
  readonly status?: string;
  readonly metadata?: Record<string, string> | null;
  readonly last_payment_error?: { readonly code?: string | null; readonly payment_method?: { readonly card?: { readonly last4?: string | null } | null } | null } | null;
  readonly payment_method?: string | { readonly card?: { readonly last4?: string | null } | null } | null;
}

const OUTCOMES: Readonly<Record<string, PaymentWebhookEvent['outcome']>> = {
  'payment_intent.succeeded': 'succeeded',
  'payment_intent.payment_failed': 'failed',
};

/** Verifies a delivery and reads its payment outcome (null for other event types). Throws WebhookSignatureError. */
export function parseIntentWebhook(rawBody: Buffer, signature: string | undefined, verification: WebhookVerification): PaymentWebhookEvent | null {
  if (!signature) throw new WebhookSignatureError('The delivery is not signed.');
  let event: Stripe.Event;
  try {
    event = Stripe.webhooks.constructEvent(rawBody, signature, verification.secret, verification.toleranceSeconds ?? 300);
  } catch (error) {
    // Bad signature, a timestamp outside the tolerance window, or a body that is not an event.
    throw new WebhookSignatureError(error instanceof Error ? error.message : 'The signature does not verify.');
  }
  const outcome = OUTCOMES[event.type];
  if (!outcome) return null;
  const intent = event.data.object as unknown as IntentObject;
  if (typeof intent?.id !== 'string') return null;
  return {
    id: event.id,
    outcome,
    chargeId: intent.id,
    orderId: intent.metadata?.['order_id'] ?? null,
    last4: last4Of(intent),
    reason: outcome === 'failed' ? failureReason(intent.last_payment_error?.code) : null,
  };
}

/** A delivery as the provider would send it: the body and its `Stripe-Signature` header, signed at `timestamp` (seconds; default now). */
export function signedDelivery(event: { id: string; type: string; object: IntentObject }, secret: string, timestamp?: number): { payload: string; signature: string } {
  const payload = JSON.stringify({ id: event.id, object: 'event', type: event.type, created: Math.floor(Date.now() / 1000), data: { object: event.object } });
  const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp === undefined ? {} : { timestamp }) });
  return { payload, signature };
}

/** The last four digits of an intent's card, wherever the provider put them. */
export function last4Of(intent: IntentObject): string | null {
  const method = typeof intent.payment_method === 'object' ? intent.payment_method : null;
  return method?.card?.last4 ?? intent.last_payment_error?.payment_method?.card?.last4 ?? null;
}

/** Stripe's failure codes in the port's words. */
export function failureReason(code: string | null | undefined): DeclineReason {
  if (code === 'payment_intent_authentication_failure') return 'authentication_failed';
  if (code === 'resource_missing' || code === 'token_already_used') return 'invalid_token';
  return 'card_declined';
}
