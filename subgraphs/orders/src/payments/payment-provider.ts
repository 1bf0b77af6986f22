/**
 * The payment port: what the saga needs from a payment gateway. Every call carries an idempotency
 * key, so the same call made twice (a retry after a timeout, a second replica after a crash) has
 * one effect: the provider answers the first outcome again.
 *
 * A decline is an answer, not an error. Errors (`PaymentProviderUnavailableError`, a timeout)
 * mean "outcome unknown, try again later with the same key".
 */

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

export type ChargeResult =
  | { readonly outcome: 'approved'; readonly chargeId: string; readonly last4: string }
  | { readonly outcome: 'declined'; readonly chargeId: string | null; readonly last4: string | null; readonly reason: DeclineReason };

/** Why a charge was not approved (`Payment.declineReason`). */
export type DeclineReason = 'card_declined' | 'invalid_token';

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
}

/** The provider could not be reached or failed: the outcome is unknown, retry later with the same key. */
export class PaymentProviderUnavailableError extends Error {
  override readonly name = 'PaymentProviderUnavailableError';
}
