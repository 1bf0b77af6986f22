import type { StockLevelPayload } from '@shop/events';
import type { StockRow } from '../persistence/entities';

/** The public view of a stock row (the contract's StockLevel minus `product`). */
export interface StockLevel {
  readonly productId: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly available: number;
  readonly lowStockThreshold: number;
  readonly isLowStock: boolean;
  readonly version: number;
  readonly updatedAt: Date;
}

export function toStockLevel(row: StockRow): StockLevel {
  const available = Math.max(0, row.onHand - row.reserved);
  return {
    productId: row.productId,
    onHand: row.onHand,
    reserved: row.reserved,
    available,
    lowStockThreshold: row.lowStockThreshold,
    isLowStock: available <= row.lowStockThreshold,
    version: row.version,
    updatedAt: row.updatedAt,
  };
}

/** A product inventory has not heard of yet (its creation event is still on the way): nothing in stock. */
export function emptyStockLevel(productId: string): StockLevel {
  return { productId, onHand: 0, reserved: 0, available: 0, lowStockThreshold: 0, isLowStock: true, version: 0, updatedAt: new Date(0) };
}

export function toPayload(level: StockLevel): StockLevelPayload {
  return { ...level, updatedAt: level.updatedAt.toISOString() };
}
