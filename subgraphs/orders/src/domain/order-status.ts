/** The order status machine: which transitions exist, and nothing else. */

export const OrderStatus = {
  Pending: 'PENDING',
  Confirmed: 'CONFIRMED',
  Shipped: 'SHIPPED',
  Delivered: 'DELIVERED',
  Cancelled: 'CANCELLED',
  Rejected: 'REJECTED',
} as const;
export type OrderStatus = (typeof OrderStatus)[keyof typeof OrderStatus];

export const ORDER_STATUSES: readonly OrderStatus[] = Object.values(OrderStatus);

const TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  PENDING: ['CONFIRMED', 'REJECTED', 'CANCELLED'],
  CONFIRMED: ['SHIPPED', 'CANCELLED'],
  SHIPPED: ['DELIVERED'],
  DELIVERED: [],
  CANCELLED: [],
  REJECTED: [],
};

/** Why an order was rejected (`Order.rejectionReason`): a closed set, also used as a metric label. */
export const RejectionReason = {
  /** Inventory could not reserve every line. */
  OutOfStock: 'OUT_OF_STOCK',
  /** The payment provider declined the card or the token was invalid. */
  PaymentDeclined: 'PAYMENT_DECLINED',
  /** Inventory did not answer within the saga timeout. */
  InventoryTimeout: 'INVENTORY_TIMEOUT',
  /** Stock was reserved but the payment could not be completed within the saga timeout. */
  PaymentTimeout: 'PAYMENT_TIMEOUT',
  /** A fraud rule (or an admin reviewing a held order) rejected it before the charge (issue 19). */
  FraudRejected: 'FRAUD_REJECTED',
} as const;
export type RejectionReason = (typeof RejectionReason)[keyof typeof RejectionReason];

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** An impossible transition was asked for (e.g. shipping a PENDING order). */
export class InvalidTransitionError extends Error {
  override readonly name = 'InvalidTransitionError';
  constructor(
    readonly from: OrderStatus,
    readonly to: OrderStatus,
  ) {
    super(`An order cannot go from ${from} to ${to}.`);
  }
}

/** Throws InvalidTransitionError unless `from -> to` is a transition of the machine. */
export function assertTransition(from: OrderStatus, to: OrderStatus): void {
  if (!canTransition(from, to)) throw new InvalidTransitionError(from, to);
}
