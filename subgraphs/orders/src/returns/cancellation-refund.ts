/**
 * The payment worker's hook for a cancellation's refund (issue 19): the whole payment counts as
 * refunded (`payment.refund_committed` and `refunded_amount`, which `Payment.refundedAmount`
 * shows), and `orders.payment-refunded.v1` (reason `cancellation`) joins the statement's events.
 */
import { PaymentRefunded } from '@shop/events';
import type { Outbox, PreparedEvent } from '@shop/platform';
import type { EntityManager } from 'typeorm';
import { toCents } from '../domain/money';
import type { PaymentRow } from '../persistence/entities';

export async function cancellationRefunded(tx: EntityManager, outbox: Outbox, payment: Pick<PaymentRow, 'orderId' | 'amount' | 'currencyCode'>, now: Date): Promise<PreparedEvent> {
  await tx.query('UPDATE payment SET refund_committed = amount, refunded_amount = amount WHERE order_id = $1', [payment.orderId]);
  return outbox.prepare(PaymentRefunded, payment.orderId, {
    orderId: payment.orderId,
    amountMinor: Number(toCents(payment.amount)),
    currencyCode: payment.currencyCode,
    reason: 'cancellation',
    returnId: null,
    refundedAt: now.toISOString(),
  });
}
