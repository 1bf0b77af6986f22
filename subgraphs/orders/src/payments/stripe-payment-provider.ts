/**
 * The payment port on Stripe's API (https://docs.stripe.com/api), with card tokens as Stripe's
 * client SDKs produce them (`tok_…`): a charge is `POST /v1/charges` with `source=<token>`
 * (captured at once), a refund `POST /v1/refunds`, and an earlier charge is found by the
 * idempotency key kept in its metadata (`GET /v1/charges/search`).
 *
 * Every write sends `Idempotency-Key`: Stripe answers a repeated key with the first response, so
 * a retry never charges or refunds twice. Declines (HTTP 402 `card_error`) and unknown tokens
 * (`resource_missing` on `source`) are answers; 409 (same key still in progress), 429, 5xx and
 * network failures are PaymentProviderUnavailableError (retry later, same key).
 *
 * Caveat: Stripe's search is eventually consistent (usually under a minute), so `findCharge` may
 * briefly miss a charge that was just made.
 */
import { toCents } from '../domain/money';
import type { ChargeRequest, ChargeResult, PaymentProvider, RefundRequest, RefundResult } from './payment-provider';
import { PaymentProviderUnavailableError } from './payment-provider';

export interface StripeOptions {
  /** A secret key (`sk_test_…` or `sk_live_…`). */
  readonly apiKey: string;
  /** API base URL. Default https://api.stripe.com (stripe-mock or a test double in tests). */
  readonly baseUrl?: string;
}

interface StripeCharge {
  readonly id: string;
  readonly status: 'succeeded' | 'pending' | 'failed';
  readonly failure_code?: string | null;
  readonly payment_method_details?: { readonly card?: { readonly last4?: string | null } | null } | null;
  readonly source?: { readonly last4?: string | null } | null;
}

interface StripeError {
  readonly error?: { readonly type?: string; readonly code?: string; readonly param?: string; readonly charge?: string; readonly message?: string };
}

export class StripePaymentProvider implements PaymentProvider {
  readonly name = 'stripe';
  private readonly baseUrl: string;

  constructor(private readonly options: StripeOptions) {
    this.baseUrl = (options.baseUrl ?? 'https://api.stripe.com').replace(/\/$/, '');
  }

  async charge(request: ChargeRequest, signal?: AbortSignal): Promise<ChargeResult> {
    // Minor units (two-decimal currencies; the shop prices in USD).
    const cents = toCents(request.amount);
    const { status, body } = await this.call(
      'POST',
      '/v1/charges',
      {
        amount: String(cents),
        currency: request.currencyCode.toLowerCase(),
        source: request.token,
        description: `Order ${request.orderId}`,
        'metadata[order_id]': request.orderId,
        'metadata[idempotency_key]': request.idempotencyKey,
      },
      request.idempotencyKey,
      signal,
    );
    if (status === 200) return toResult(body as StripeCharge);
    const error = (body as StripeError).error;
    if (status === 402 && error?.type === 'card_error') return { outcome: 'declined', chargeId: error.charge ?? null, last4: null, reason: 'card_declined' };
    if (status === 400 && error?.code === 'resource_missing' && error.param === 'source') return { outcome: 'declined', chargeId: null, last4: null, reason: 'invalid_token' };
    throw unexpected(status, body);
  }

  async refund(request: RefundRequest, signal?: AbortSignal): Promise<RefundResult> {
    // A partial refund (issue 19) in minor units; without `amount` Stripe refunds what is left. (C's SDK adapter replaces this file.)
    const form: Record<string, string> = { charge: request.chargeId };
    if (request.amount !== undefined) form['amount'] = String(toCents(request.amount));
    const { status, body } = await this.call('POST', '/v1/refunds', form, request.idempotencyKey, signal);
    if (status === 200) return { refundId: (body as { id: string }).id };
    // Refunding twice with another key: the charge is refunded already, which is what we want.
    if (status === 400 && (body as StripeError).error?.code === 'charge_already_refunded') return { refundId: `already-refunded:${request.chargeId}` };
    throw unexpected(status, body);
  }

  async findCharge(idempotencyKey: string, signal?: AbortSignal): Promise<ChargeResult | null> {
    const query = `metadata['idempotency_key']:'${idempotencyKey.replace(/['\\]/g, '')}'`;
    const { status, body } = await this.call('GET', `/v1/charges/search?${new URLSearchParams({ query, limit: '1' })}`, null, null, signal);
    if (status !== 200) throw unexpected(status, body);
    const found = (body as { data?: StripeCharge[] }).data?.[0];
    return found ? toResult(found) : null;
  }

  private async call(method: 'GET' | 'POST', path: string, form: Record<string, string> | null, idempotencyKey: string | null, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
          ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
        },
        ...(form ? { body: new URLSearchParams(form).toString() } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      throw new PaymentProviderUnavailableError(`stripe: ${(error as Error).message}`);
    }
    const body: unknown = await res.json().catch(() => ({}));
    if (res.status === 409 || res.status === 429 || res.status >= 500) throw new PaymentProviderUnavailableError(`stripe: HTTP ${res.status}`);
    return { status: res.status, body };
  }
}

function toResult(charge: StripeCharge): ChargeResult {
  const last4 = charge.payment_method_details?.card?.last4 ?? charge.source?.last4 ?? null;
  if (charge.status === 'succeeded') return { outcome: 'approved', chargeId: charge.id, last4: last4 ?? '' };
  if (charge.status === 'failed') return { outcome: 'declined', chargeId: charge.id, last4, reason: 'card_declined' };
  // `pending` (some payment methods settle later): outcome unknown yet; ask again later.
  throw new PaymentProviderUnavailableError(`stripe: charge ${charge.id} is ${charge.status}`);
}

function unexpected(status: number, body: unknown): Error {
  return new Error(`stripe: unexpected HTTP ${status}: ${JSON.stringify((body as StripeError).error?.message ?? body).slice(0, 200)}`);
}
