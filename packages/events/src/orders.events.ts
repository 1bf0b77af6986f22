import { defineEvent } from '@shop/platform';
import { z } from 'zod';
import { id, money } from './common';

/** Every order event, keyed by order id. */
export const ORDERS_ORDER_TOPIC = 'orders.order';

const item = z.object({ productId: id, productName: z.string(), quantity: z.number().int().positive(), unitPrice: money });
const base = { orderId: id, number: z.string(), userId: id };

export const OrderPlaced = defineEvent('orders.order-placed.v1', ORDERS_ORDER_TOPIC, z.object({ ...base, items: z.array(item), total: money, placedAt: z.string() }));
export const OrderConfirmed = defineEvent('orders.order-confirmed.v1', ORDERS_ORDER_TOPIC, z.object({ ...base, total: money }));
export const OrderRejected = defineEvent('orders.order-rejected.v1', ORDERS_ORDER_TOPIC, z.object({ ...base, reason: z.string(), stockWasReserved: z.boolean() }));
export const OrderCancelled = defineEvent('orders.order-cancelled.v1', ORDERS_ORDER_TOPIC, z.object({ ...base, reason: z.string().nullable(), refunded: z.boolean() }));
export const OrderShipped = defineEvent('orders.order-shipped.v1', ORDERS_ORDER_TOPIC, z.object({ ...base, items: z.array(item.pick({ productId: true, quantity: true })), carrier: z.string(), trackingNumber: z.string() }));
export const OrderDelivered = defineEvent('orders.order-delivered.v1', ORDERS_ORDER_TOPIC, z.object({ ...base }));
