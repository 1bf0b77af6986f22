import { z } from 'zod';
import { defineEvent } from './definition';
import { id, timestamp } from './common';

/** Stock events, keyed by product id (in order per product). */
export const INVENTORY_STOCK_TOPIC = 'inventory.stock';
/** Reservation answers to the orders saga, keyed by order id. */
export const INVENTORY_RESERVATION_TOPIC = 'inventory.reservation';

export const stockLevel = z.object({
  productId: id,
  onHand: z.number().int(),
  reserved: z.number().int(),
  available: z.number().int(),
  lowStockThreshold: z.number().int(),
  isLowStock: z.boolean(),
  /** Increases by one with every change of this product's stock. */
  version: z.number().int(),
  updatedAt: timestamp,
});
export type StockLevelPayload = z.infer<typeof stockLevel>;

/** Why a product's stock changed. */
export const STOCK_CHANGE_REASONS = ['opened', 'reserved', 'released', 'shipped', 'adjusted', 'threshold', 'closed'] as const;
export type StockChangeReason = (typeof STOCK_CHANGE_REASONS)[number];

/** Every change of a product's stock, in order per product (version + 1 each time); `reason` says why. */
export const StockChanged = defineEvent('inventory.stock-changed.v1', INVENTORY_STOCK_TOPIC, stockLevel.extend({ reason: z.enum(STOCK_CHANGE_REASONS).optional() }));
/** Available stock fell to or below the threshold from above: once per crossing, not on every further sale. */
export const LowStock = defineEvent('inventory.low-stock.v1', INVENTORY_STOCK_TOPIC, stockLevel);

const line = z.object({ productId: id, quantity: z.number().int().positive() });
/** Answer to orders.order-placed.v1: every line is reserved (lines merged per product). */
export const StockReserved = defineEvent('inventory.stock-reserved.v1', INVENTORY_RESERVATION_TOPIC, z.object({ orderId: id, lines: z.array(line) }));
/** Answer to orders.order-placed.v1: nothing is reserved; each line that fell short (unknown or deleted products: available 0). */
export const StockRejected = defineEvent(
  'inventory.stock-rejected.v1',
  INVENTORY_RESERVATION_TOPIC,
  z.object({ orderId: id, shortages: z.array(z.object({ productId: id, requested: z.number().int(), available: z.number().int() })) }),
);
