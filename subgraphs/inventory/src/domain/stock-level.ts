import type { StockLevelPayload } from '@shop/events';

/** The state of one product's stock as the domain sees it (the persistence row satisfies it). */
export interface StockState {
  readonly productId: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly lowStockThreshold: number;
  readonly version: number;
  readonly updatedAt: Date;
  /** Set once the product is deleted from the catalog: nothing more can be reserved. */
  readonly closedAt: Date | null;
}

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

/** onHand - reserved, never below 0 (the CHECK constraint makes the clamp a formality). */
export function availableOf(state: Pick<StockState, 'onHand' | 'reserved'>): number {
  return Math.max(0, state.onHand - state.reserved);
}

/** The contract's rule: low when available stock is at or below the threshold. */
export function isLow(state: Pick<StockState, 'onHand' | 'reserved' | 'lowStockThreshold'>): boolean {
  return availableOf(state) <= state.lowStockThreshold;
}

/**
 * True when a change makes an open product fall to or below its threshold from above: the one
 * moment a `inventory.low-stock.v1` alert is due. Further sales while low, and the opening of a
 * product that starts low, are not crossings.
 */
export function crossedIntoLowStock(before: StockState, after: StockState): boolean {
  return before.closedAt === null && after.closedAt === null && !isLow(before) && isLow(after);
}

export function toStockLevel(state: StockState): StockLevel {
  return {
    productId: state.productId,
    onHand: state.onHand,
    reserved: state.reserved,
    available: availableOf(state),
    lowStockThreshold: state.lowStockThreshold,
    isLowStock: isLow(state),
    version: state.version,
    updatedAt: state.updatedAt,
  };
}

/** A product inventory has not heard of yet (its creation event is still on the way): nothing in stock. */
export function emptyStockLevel(productId: string): StockLevel {
  return { productId, onHand: 0, reserved: 0, available: 0, lowStockThreshold: 0, isLowStock: true, version: 0, updatedAt: new Date(0) };
}

export function toPayload(level: StockLevel): StockLevelPayload {
  return { ...level, updatedAt: level.updatedAt.toISOString() };
}

/** Why a stock level changed, carried in `inventory.stock-changed.v1` as `reason`. */
export type { StockChangeReason } from '@shop/events';
