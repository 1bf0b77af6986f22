import { z } from 'zod';
import { defineEvent } from './definition';
import { id, money, timestamp } from './common';

/** Every order event, keyed by order id. */
export const ORDERS_ORDER_TOPIC = 'orders.order';

const item = z.object({ productId: id, productName: z.string(), quantity: z.number().int().positive(), unitPrice: money });
const base = { orderId: id, number: z.string(), userId: id };

/**
 * Issue 18 (additive, optional: older events have neither): the amounts an order was placed with
 * (total = subtotal - discount + shipping + tax), and `guest: true` for a guest checkout, whose
 * `userId` is then `guest:<cart id>` (no account; users asks orders for the recipient over the
 * signed internal route, never through an event: events carry no personal data).
 */
/** Whether an order event's `userId` is a guest checkout's (`guest:<cart id>`): its recipient comes from orders. */
export function isGuestOwner(userId: string): boolean {
  return userId.startsWith('guest:');
}

export const orderBreakdown = z.object({ subtotal: money, discount: money, shipping: money, tax: money, total: money });
const pricing = { breakdown: orderBreakdown.optional(), guest: z.boolean().optional() };

/** An order was accepted (PENDING): inventory reserves every line or none and answers on inventory.reservation. */
export const OrderPlaced = defineEvent('orders.order-placed.v1', ORDERS_ORDER_TOPIC, z.object({ ...base, items: z.array(item), total: money, placedAt: timestamp, ...pricing }));
/** Stock reserved and payment captured. */
export const OrderConfirmed = defineEvent('orders.order-confirmed.v1', ORDERS_ORDER_TOPIC, z.object({ ...base, total: money, ...pricing }));
/** Why the saga rejected an order. */
export const ORDER_REJECTION_REASONS = ['OUT_OF_STOCK', 'PAYMENT_DECLINED', 'INVENTORY_TIMEOUT', 'PAYMENT_TIMEOUT', 'FRAUD_REJECTED'] as const;
export type OrderRejectionReason = (typeof ORDER_REJECTION_REASONS)[number];

/**
 * The saga failed (reason OUT_OF_STOCK, PAYMENT_DECLINED, INVENTORY_TIMEOUT or PAYMENT_TIMEOUT).
 * `stockWasReserved` is true when stock was, or may have been, reserved for the order (after a
 * timeout orders cannot know): inventory then releases whatever reservation the order holds.
 */
export const OrderRejected = defineEvent('orders.order-rejected.v1', ORDERS_ORDER_TOPIC, z.object({ ...base, reason: z.enum(ORDER_REJECTION_REASONS), stockWasReserved: z.boolean() }));
/**
 * Cancelled by its owner or an admin before shipping: inventory releases; `refunded` is true when a
 * captured payment is being refunded. `reason` is the canceller's own words (free text), if any.
 */
export const OrderCancelled = defineEvent('orders.order-cancelled.v1', ORDERS_ORDER_TOPIC, z.object({ ...base, reason: z.string().nullable(), refunded: z.boolean() }));
/** Handed to a carrier: inventory turns the reservation into a deduction of on-hand stock. */
export const OrderShipped = defineEvent('orders.order-shipped.v1', ORDERS_ORDER_TOPIC, z.object({ ...base, items: z.array(item.pick({ productId: true, quantity: true })), carrier: z.string(), trackingNumber: z.string() }));
export const OrderDelivered = defineEvent('orders.order-delivered.v1', ORDERS_ORDER_TOPIC, z.object({ ...base }));
/** The refund of a cancelled order's payment went through at the provider (after orders.order-cancelled.v1). */
export const OrderRefunded = defineEvent('orders.order-refunded.v1', ORDERS_ORDER_TOPIC, z.object({ ...base, amount: money, refundedAt: timestamp }));

/**
 * Issue 19 (D): money refunded at the provider, for a cancellation (the whole payment) or a
 * return (its lines' share). Minor units (cents) and the currency; `returnId` null for a
 * cancellation. Never card data.
 */
export const PAYMENT_REFUND_REASONS = ['cancellation', 'return'] as const;
export const PaymentRefunded = defineEvent(
  'orders.payment-refunded.v1',
  ORDERS_ORDER_TOPIC,
  z.object({ orderId: id, amountMinor: z.number().int().nonnegative(), currencyCode: z.string().length(3), reason: z.enum(PAYMENT_REFUND_REASONS), returnId: id.nullable(), refundedAt: timestamp }),
);

/** Returns of delivered orders (issue 19), keyed by order id, on the order topic (ordered with the order's own events). */
const returnBase = { ...base, returnId: id };
const returnLine = z.object({ productId: id, quantity: z.number().int().positive() });
/** The owner asked to return some lines of a DELIVERED order. */
export const ReturnRequested = defineEvent('orders.return-requested.v1', ORDERS_ORDER_TOPIC, z.object({ ...returnBase, items: z.array(returnLine), requestedAt: timestamp }));
/** An admin accepted the request: the customer may send the goods back. */
export const ReturnApproved = defineEvent('orders.return-approved.v1', ORDERS_ORDER_TOPIC, z.object({ ...returnBase, approvedAt: timestamp }));
/** An admin refused the request (`reason`: their words). */
export const ReturnRejected = defineEvent('orders.return-rejected.v1', ORDERS_ORDER_TOPIC, z.object({ ...returnBase, reason: z.string(), rejectedAt: timestamp }));
/** The goods are back in the warehouse: inventory puts `items` back on hand (an audited adjustment by `actorId`). */
export const ReturnReceived = defineEvent('orders.return-received.v1', ORDERS_ORDER_TOPIC, z.object({ ...returnBase, items: z.array(returnLine), actorId: id, receivedAt: timestamp }));
/** The return's refund went through at the provider. */
export const ReturnRefunded = defineEvent('orders.return-refunded.v1', ORDERS_ORDER_TOPIC, z.object({ ...returnBase, amount: money, refundedAt: timestamp }));

/** Coupon facts, keyed by coupon id (issue 18; analytics). */
export const ORDERS_COUPON_TOPIC = 'orders.coupon';
/** A checkout took one redemption of a coupon (written with the order; given back if the order is rejected or cancelled). */
export const CouponRedeemed = defineEvent('orders.coupon-redeemed.v1', ORDERS_COUPON_TOPIC, z.object({ couponId: id, code: z.string(), orderId: id, discount: money, redeemedAt: timestamp }));
/** Cart facts, keyed by cart id (issue 18; analytics: conversion, abandonment). No personal data. */
export const ORDERS_CART_TOPIC = 'orders.cart';
/** A cart was created (a guest's `createCart`, or a signed-in user's implicit cart on first use; issue 21: the sales report's conversion). */
export const CartCreated = defineEvent('orders.cart-created.v1', ORDERS_CART_TOPIC, z.object({ cartId: id, guest: z.boolean(), at: timestamp }));
/** A cart became an order. */
export const CartCheckedOut = defineEvent('orders.cart-checked-out.v1', ORDERS_CART_TOPIC, z.object({ cartId: id, orderId: id, guest: z.boolean(), itemCount: z.number().int(), total: money, at: timestamp }));
/** An inactive cart expired and was removed by the sweep. */
export const CartExpired = defineEvent('orders.cart-expired.v1', ORDERS_CART_TOPIC, z.object({ cartId: id, at: timestamp }));

/**
 * Payment facts (issue 19), on the order's topic and keyed by order id, so they stay in order with
 * its other events. Amounts in minor units (cents) with their currency; `paymentId` is the
 * provider's id of the payment (a Stripe PaymentIntent `pi_…`, the sandbox's own); no card data.
 */
export const PAYMENT_FAILURE_REASONS = ['card_declined', 'invalid_token', 'authentication_failed'] as const;
export type PaymentFailureReason = (typeof PAYMENT_FAILURE_REASONS)[number];
const paymentFact = { orderId: id, provider: z.string(), amountMinor: z.number().int().nonnegative(), currencyCode: z.string().length(3) };
/** The provider captured the order's payment (directly, or after the customer's authentication). */
export const PaymentSucceeded = defineEvent('orders.payment-succeeded.v1', ORDERS_ORDER_TOPIC, z.object({ ...paymentFact, paymentId: id, succeededAt: timestamp }));
/** The provider refused the payment (declined card, invalid token, failed authentication); `paymentId` is null when no payment was created. */
export const PaymentFailed = defineEvent('orders.payment-failed.v1', ORDERS_ORDER_TOPIC, z.object({ ...paymentFact, paymentId: id.nullable(), reason: z.enum(PAYMENT_FAILURE_REASONS), failedAt: timestamp }));
/**
 * The provider asks the customer to authenticate the payment (3-D Secure): the order stays PENDING
 * until the outcome arrives by webhook or the saga times out. `actionType` e.g. THREE_D_SECURE.
 * The client secret never travels on the bus (the customer reads it from `Payment.nextAction`).
 */
export const PaymentActionRequired = defineEvent('orders.payment-action-required.v1', ORDERS_ORDER_TOPIC, z.object({ ...paymentFact, number: z.string(), userId: id, paymentId: id, actionType: z.string(), requiredAt: timestamp }));

/** Orders' own queue of verified provider webhooks (written by POST /webhooks/payments through the outbox, consumed by orders with the inbox). */
export const ORDERS_PAYMENT_WEBHOOK_TOPIC = 'orders.payment-webhook';
/** A provider webhook whose signature, timestamp and id were checked (first delivery of its id only): the outcome of a payment that needed action. */
export const PaymentWebhookReceived = defineEvent(
  'orders.payment-webhook-received.v1',
  ORDERS_PAYMENT_WEBHOOK_TOPIC,
  z.object({ provider: z.string(), providerEventId: z.string().min(1).max(255), outcome: z.enum(['succeeded', 'failed']), paymentId: id, orderId: id.nullable(), last4: z.string().nullable(), reason: z.enum(PAYMENT_FAILURE_REASONS).nullable(), receivedAt: timestamp }),
);
