/**
 * The life of an order's payment (`Payment.status`):
 *
 *   CREATED ──stock reserved──▶ PENDING ──charge approved──▶ CAPTURED ──cancel──▶ REFUND_PENDING ──▶ REFUNDED
 *      │                          ├──declined / invalid token──▶ DECLINED
 *      │                          ├──cancel/timeout, never attempted──▶ VOIDED
 *      └─cancel/timeout─▶ VOIDED  └──cancel/timeout, attempted──▶ VOID_PENDING ──▶ VOIDED | DECLINED | REFUND_PENDING
 *
 * Issue 19, strong customer authentication: PENDING ──provider asks for 3-D Secure──▶ REQUIRES_ACTION
 * (the order stays PENDING, `Payment.nextAction` tells the client what to do) ──webhook──▶ CAPTURED
 * (order CONFIRMED) | DECLINED (`authentication_failed`, order REJECTED); a challenge never completed
 * is VOIDED by the saga timeout (or a cancellation), and a success arriving after that is refunded.
 *
 * VOID_PENDING exists because a charge that was attempted may have gone through even though we
 * never heard back: the worker asks the provider (by idempotency key) and refunds what it finds.
 */
export const PaymentStatus = {
  Created: 'CREATED',
  Pending: 'PENDING',
  RequiresAction: 'REQUIRES_ACTION',
  Captured: 'CAPTURED',
  Declined: 'DECLINED',
  VoidPending: 'VOID_PENDING',
  Voided: 'VOIDED',
  RefundPending: 'REFUND_PENDING',
  Refunded: 'REFUNDED',
  /** Issue 19: a fraud rule held the charge for an admin's review (releaseHeldOrder → PENDING; rejectHeldOrder, cancellation, timeout → VOIDED). */
  HeldForReview: 'HELD_FOR_REVIEW',
} as const;
export type PaymentStatus = (typeof PaymentStatus)[keyof typeof PaymentStatus];

/** The idempotency key of an order's (single) charge: a retry of any kind never charges twice. */
export function chargeKey(orderId: string): string {
  return `order-${orderId}-charge`;
}

export function refundKey(orderId: string): string {
  return `order-${orderId}-refund`;
}
