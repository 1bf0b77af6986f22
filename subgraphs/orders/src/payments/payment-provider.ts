/**
 * The payment port: what the saga needs from a payment gateway. Every call carries an idempotency
 * key, so the same call made twice (a retry after a timeout, a second replica after a crash) has
 * one effect: the provider answers the first outcome again.
 *
 * A decline is an answer, not an error. Errors (`PaymentProviderUnavailableError`, a timeout)
 * mean "outcome unknown, try again later with the same key".
 */
import type { PaymentFailureReason } from '@shop/events';

export interface ChargeRequest {
  readonly idempotencyKey: string;
  /** Decimal string, e.g. "59.98". */
  readonly amount: string;
  readonly currencyCode: string;
  /** A single-use card token from the provider's client SDK (never card data). */
  readonly token: string;
  /** Shown on the provider's dashboard; also lets `findCharge` work on providers that search by metadata. */
  readonly orderId: string;
}

/**
 * What the customer must do before the provider can go on (3-D Secure): `type` (e.g.
 * THREE_D_SECURE), a client secret for the provider's client library and/or a URL to send the
 * customer to. `Payment.nextAction` shows it while the payment is REQUIRES_ACTION.
 */
export interface PaymentAction {
  readonly type: string;
  readonly clientSecret: string | null;
  readonly redirectUrl: string | null;
}

export type ChargeResult =
  | { readonly outcome: 'approved'; readonly chargeId: string; readonly last4: string }
  | { readonly outcome: 'declined'; readonly chargeId: string | null; readonly last4: string | null; readonly reason: DeclineReason }
  /** The provider needs the customer's authentication first; the outcome arrives by webhook (`parseWebhook`). */
  | { readonly outcome: 'requires_action'; readonly chargeId: string; readonly last4: string | null; readonly nextAction: PaymentAction };

/** Why a charge was not approved (`Payment.declineReason`; the reasons of `orders.payment-failed.v1`). */
export type DeclineReason = PaymentFailureReason;

/** The outcome of a payment as a provider's verified webhook tells it (see `PaymentProvider.parseWebhook`). */
export interface PaymentWebhookEvent {
  /** The provider's event id: a second delivery of the same id has no effect. */
  readonly id: string;
  readonly outcome: 'succeeded' | 'failed';
  /** The provider's payment id (`ChargeResult.chargeId`). */
  readonly chargeId: string;
  /** From the payment's metadata, when the provider carries it back. */
  readonly orderId: string | null;
  readonly last4: string | null;
  /** Why it failed (null when it succeeded). */
  readonly reason: DeclineReason | null;
}

/** A webhook delivery that must have no effect: unsigned, badly signed, or signed too long ago. */
export class WebhookSignatureError extends Error {
  override readonly name = 'WebhookSignatureError';
}

export interface RefundRequest {
  readonly idempotencyKey: string;
  readonly chargeId: string;
  /**
   * Decimal string like `ChargeRequest.amount` (e.g. "12.50"): a partial refund (issue 19, a
   * return's share). Absent: the full remaining amount (a cancellation). A provider refuses more
   * than the charge has left (an error, never a silent cap).
   */
  readonly amount?: string;
}

export interface RefundResult {
  readonly refundId: string;
}

export interface PaymentProvider {
  /** Stored on the payment (`Payment.provider`), e.g. "sandbox". */
  readonly name: string;
  /** Charges and captures at once. */
  charge(request: ChargeRequest, signal?: AbortSignal): Promise<ChargeResult>;
  /** Refunds a captured charge: `amount` of it, or all that is left when absent. */
  refund(request: RefundRequest, signal?: AbortSignal): Promise<RefundResult>;
  /** The outcome of an earlier charge made with this idempotency key, or null if the provider never got it. */
  findCharge(idempotencyKey: string, signal?: AbortSignal): Promise<ChargeResult | null>;
  /**
   * Verifies a webhook delivery (the raw body and the provider's signature header, within the
   * provider's tolerance window) and reads the payment outcome it carries; null for event types the
   * saga does not need. Throws WebhookSignatureError when it is unsigned, badly signed or too old.
   */
  parseWebhook(rawBody: Buffer, signature: string | undefined): PaymentWebhookEvent | null;
}

/** The provider could not be reached or failed: the outcome is unknown, retry later with the same key. */
export class PaymentProviderUnavailableError extends Error {
  override readonly name = 'PaymentProviderUnavailableError';
}
