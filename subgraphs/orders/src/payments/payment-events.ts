/**
 * The payment facts orders publishes (`orders.payment-*.v1`, packages/events), prepared for the
 * outbox in the statement of the change they describe: amounts in minor units, no card data.
 */
import type { PaymentFailureReason } from '@shop/events';
import { PaymentActionRequired, PaymentFailed, PaymentSucceeded } from '@shop/events';
import type { Outbox, PreparedEvent } from '@shop/platform';
import { toCents } from '../domain/money';

/** What the events need of the payment (and of its order, for the mail of a payment that needs action). */
export interface PaymentSubject {
  readonly orderId: string;
  readonly provider: string;
  readonly amount: string;
  readonly currencyCode: string;
}

function fact(p: PaymentSubject) {
  return { orderId: p.orderId, provider: p.provider, amountMinor: Number(toCents(p.amount)), currencyCode: p.currencyCode.trim() };
}

export function paymentSucceeded(outbox: Outbox, p: PaymentSubject, paymentId: string, at: Date): PreparedEvent {
  return outbox.prepare(PaymentSucceeded, p.orderId, { ...fact(p), paymentId, succeededAt: at.toISOString() });
}

export function paymentFailed(outbox: Outbox, p: PaymentSubject, paymentId: string | null, reason: PaymentFailureReason, at: Date): PreparedEvent {
  return outbox.prepare(PaymentFailed, p.orderId, { ...fact(p), paymentId, reason, failedAt: at.toISOString() });
}

export function paymentActionRequired(outbox: Outbox, p: PaymentSubject, order: { readonly number: string; readonly userId: string }, paymentId: string, actionType: string, at: Date): PreparedEvent {
  return outbox.prepare(PaymentActionRequired, p.orderId, { ...fact(p), number: order.number, userId: order.userId, paymentId, actionType, requiredAt: at.toISOString() });
}
