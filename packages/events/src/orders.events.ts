import { z } from 'zod';
import { defineEvent } from './definition';
import { id, money, timestamp } from './common';

/** Every order event, keyed by order id. */
export const ORDERS_ORDER_TOPIC = 'orders.order';

const item = z.object({ productId: id, productName: z.string(), quantity: z.number().int().positive(), unitPrice: money });
const base = { orderId: id, number: z.string(), userId: id };

/** An order was accepted (PENDING): inventory reserves every line or none and answers on inventory.reservation. */
export const OrderPlaced = defineEvent('orders.order-placed.v1', ORDERS_ORDER_TOPIC, z.object({ ...base, items: z.array(item), total: money, placedAt: timestamp }));
/** Stock reserved and payment captured. */
export const OrderConfirmed = defineEvent('orders.order-confirmed.v1', ORDERS_ORDER_TOPIC, z.object({ ...base, total: money }));
/** Why the saga rejected an order. */
export const ORDER_REJECTION_REASONS = ['OUT_OF_STOCK', 'PAYMENT_DECLINED', 'INVENTORY_TIMEOUT', 'PAYMENT_TIMEOUT'] as const;
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
