/**
 * The payment port on Stripe's PaymentIntents (https://docs.stripe.com/payments/payment-intents),
 * through the official SDK (`stripe`). A charge creates and confirms an intent at once with the
 * card token of Stripe's client libraries (`payment_method_data[card][token]`), so it passes strong
 * customer authentication: an intent that needs 3-D Secure answers `requires_action` with its
 * client secret (Stripe.js `handleNextAction`) or a redirect URL (when a return URL is set), and
 * its outcome arrives later by webhook (`parseWebhook`, the signature checked by the SDK).
 *
 * Every write sends an idempotency key: Stripe answers a repeated key with the first response, so
 * a retry never charges or refunds twice. Declines (`card_error`) and unknown tokens
 * (`resource_missing`) are answers; 409 (same key still in progress), 429, 5xx and network
 * failures are PaymentProviderUnavailableError (retry later, same key). The SDK's own retries are
 * off: the resilient wrapper owns retries and timeouts.
 *
 * Caveat: Stripe's search is eventually consistent (usually under a minute), so `findCharge` may
 * briefly miss an intent that was just created.
 */
import Stripe from 'stripe';
import { toCents } from '../domain/money';
import type { ChargeRequest, ChargeResult, PaymentProvider, PaymentWebhookEvent, RefundRequest, RefundResult } from './payment-provider';
import { PaymentProviderUnavailableError } from './payment-provider';
import type { IntentObject, WebhookVerification } from './provider-webhooks';
import { failureReason, last4Of, parseIntentWebhook } from './provider-webhooks';

export interface StripeOptions {
  /** A secret key (`sk_test_…` or `sk_live_…`). */
  readonly apiKey: string;
  /** API base URL. Default https://api.stripe.com (a local fake of Stripe's API in tests). */
  readonly baseUrl?: string;
  /** The webhook endpoint's signing secret and tolerance (`STRIPE_WEBHOOK_SECRET`). */
  readonly webhooks: WebhookVerification;
  /** Where Stripe sends the customer back after a redirect-based challenge; without it the client completes it with Stripe.js. Default none. */
  readonly returnUrl?: string;
  /** Time limit of one HTTP request, ms. Default 5000. */
  readonly timeoutMs?: number;
}

export class StripePaymentProvider implements PaymentProvider {
  readonly name = 'stripe';
  private readonly stripe: Stripe;

  constructor(private readonly options: StripeOptions) {
    const url = new URL(options.baseUrl ?? 'https://api.stripe.com');
    this.stripe = new Stripe(options.apiKey, {
      host: url.hostname,
      port: url.port || (url.protocol === 'http:' ? 80 : 443),
      protocol: url.protocol === 'http:' ? 'http' : 'https',
      maxNetworkRetries: 0,
      timeout: options.timeoutMs ?? 5_000,
      telemetry: false,
    });
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    try {
      const intent = await this.stripe.paymentIntents.create(
        {
          // Minor units (two-decimal currencies; the shop prices in USD).
          amount: Number(toCents(request.amount)),
          currency: request.currencyCode.toLowerCase(),
          // Cards only in effect (the data below); redirects only when there is a page to come back to.
          automatic_payment_methods: { enabled: true, allow_redirects: this.options.returnUrl ? 'always' : 'never' },
          payment_method_data: { type: 'card', card: { token: request.token } } as Stripe.PaymentIntentCreateParams.PaymentMethodData,
          confirm: true,
          description: `Order ${request.orderId}`,
          metadata: { order_id: request.orderId, idempotency_key: request.idempotencyKey },
          expand: ['payment_method'],
          ...(this.options.returnUrl ? { return_url: this.options.returnUrl } : {}),
        },
        { idempotencyKey: request.idempotencyKey },
      );
      return toResult(intent as unknown as StripeIntent);
    } catch (error) {
      if (error instanceof Stripe.errors.StripeCardError) {
        const intent = (error.raw as { payment_intent?: StripeIntent }).payment_intent;
        return { outcome: 'declined', chargeId: intent?.id ?? null, last4: intent ? last4Of(intent) : null, reason: failureReason(error.code) };
      }
      if (error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'resource_missing' && error.param?.includes('token')) {
        return { outcome: 'declined', chargeId: null, last4: null, reason: 'invalid_token' };
      }
      throw translated(error);
    }
  }

  async refund(request: RefundRequest): Promise<RefundResult> {
    try {
      const refund = await this.stripe.refunds.create(
        { payment_intent: request.chargeId, ...(request.amount === undefined ? {} : { amount: Number(toCents(request.amount)) }) },
        { idempotencyKey: request.idempotencyKey },
      );
      return { refundId: refund.id };
    } catch (error) {
      // Refunded in full already (another key): what we want.
      if (error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'charge_already_refunded') return { refundId: `already-refunded:${request.chargeId}` };
      throw translated(error);
    }
  }

  async findCharge(idempotencyKey: string): Promise<ChargeResult | null> {
    try {
      const found = await this.stripe.paymentIntents.search({ query: `metadata['idempotency_key']:'${idempotencyKey.replace(/['\\]/g, '')}'`, limit: 1, expand: ['data.payment_method'] });
      const intent = found.data[0];
      return intent ? toResult(intent as unknown as StripeIntent) : null;
    } catch (error) {
      throw translated(error);
    }
  }

  parseWebhook(rawBody: Buffer, signature: string | undefined): PaymentWebhookEvent | null {
    return parseIntentWebhook(rawBody, signature, this.options.webhooks);
  }
}

/** The fields of a PaymentIntent the port reads. */
interface StripeIntent extends IntentObject {
  readonly status: string;
  readonly client_secret?: string | null;
  readonly next_action?: { readonly type: string; readonly redirect_to_url?: { readonly url?: string | null } | null } | null;
}

function toResult(intent: StripeIntent): ChargeResult {
  const last4 = last4Of(intent);
  switch (intent.status) {
    case 'succeeded':
      return { outcome: 'approved', chargeId: intent.id, last4: last4 ?? '' };
    case 'requires_action': {
      const redirectUrl = intent.next_action?.type === 'redirect_to_url' ? (intent.next_action.redirect_to_url?.url ?? null) : null;
      return { outcome: 'requires_action', chargeId: intent.id, last4, nextAction: { type: 'THREE_D_SECURE', clientSecret: intent.client_secret ?? null, redirectUrl } };
    }
    case 'requires_payment_method':
    case 'canceled':
      return { outcome: 'declined', chargeId: intent.id, last4, reason: failureReason(intent.last_payment_error?.code) };
    default:
      // `processing`, `requires_capture`, `requires_confirmation`: no outcome yet; ask again later.
      throw new PaymentProviderUnavailableError(`stripe: payment intent ${intent.id} is ${intent.status}`);
  }
}

/** Transient failures become PaymentProviderUnavailableError (retry later, same key); anything else stays an error. */
function translated(error: unknown): Error {
  if (error instanceof Stripe.errors.StripeError) {
    const status = error.statusCode ?? 0;
    if (error instanceof Stripe.errors.StripeConnectionError || status === 409 || status === 429 || status >= 500 || status === 0) {
      return new PaymentProviderUnavailableError(`stripe: ${error.type} ${status || ''} ${error.message}`.trim());
    }
    return new Error(`stripe: ${error.type} ${status}: ${error.message.slice(0, 200)}`);
  }
  return error instanceof Error ? error : new Error(String(error));
}
