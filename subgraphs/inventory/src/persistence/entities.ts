import { EntitySchema } from 'typeorm';

/** Stock of one product. `available` is derived: on_hand - reserved. */
export interface StockRow {
  productId: string;
  onHand: number;
  reserved: number;
  lowStockThreshold: number;
  /** The stock the product was created with (never changes; the ledger's starting point). */
  initialOnHand: number;
  version: number;
  updatedAt: Date;
  closedAt: Date | null;
}

export const StockEntity = new EntitySchema<StockRow>({
  name: 'Stock',
  tableName: 'stock',
  columns: {
    productId: { type: 'uuid', primary: true, name: 'product_id' },
    onHand: { type: 'int', name: 'on_hand' },
    reserved: { type: 'int' },
    lowStockThreshold: { type: 'int', name: 'low_stock_threshold' },
    initialOnHand: { type: 'int', name: 'initial_on_hand' },
    version: { type: 'int' },
    updatedAt: { type: 'timestamptz', name: 'updated_at' },
    closedAt: { type: 'timestamptz', name: 'closed_at', nullable: true },
  },
});

export type ReservationStatus = 'RESERVED' | 'RELEASED' | 'SHIPPED';

/** What one order holds of one product. */
export interface ReservationRow {
  orderId: string;
  productId: string;
  quantity: number;
  status: ReservationStatus;
  createdAt: Date;
  updatedAt: Date;
}

export const ReservationEntity = new EntitySchema<ReservationRow>({
  name: 'Reservation',
  tableName: 'reservation',
  columns: {
    orderId: { type: 'text', primary: true, name: 'order_id' },
    productId: { type: 'uuid', primary: true, name: 'product_id' },
    quantity: { type: 'int' },
    status: { type: 'text' },
    createdAt: { type: 'timestamptz', name: 'created_at' },
    updatedAt: { type: 'timestamptz', name: 'updated_at' },
  },
});

/** The answer given to one order placed (replayed if the same order is placed again). */
export interface ReservationDecisionRow {
  orderId: string;
  outcome: 'RESERVED' | 'REJECTED';
  answer: unknown;
  decidedAt: Date;
}

export const ReservationDecisionEntity = new EntitySchema<ReservationDecisionRow>({
  name: 'ReservationDecision',
  tableName: 'reservation_decision',
  columns: {
    orderId: { type: 'text', primary: true, name: 'order_id' },
    outcome: { type: 'text' },
    answer: { type: 'jsonb' },
    decidedAt: { type: 'timestamptz', name: 'decided_at' },
  },
});

/** One audited admin adjustment, with the levels it resulted in. */
export interface AdjustmentRow {
  id: string;
  productId: string;
  delta: number;
  reason: string;
  actorId: string;
  onHandAfter: number;
  reservedAfter: number;
  createdAt: Date;
}

export const AdjustmentEntity = new EntitySchema<AdjustmentRow>({
  name: 'InventoryAdjustment',
  tableName: 'inventory_adjustment',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid' },
    productId: { type: 'uuid', name: 'product_id' },
    delta: { type: 'int' },
    reason: { type: 'text' },
    actorId: { type: 'text', name: 'actor_id' },
    onHandAfter: { type: 'int', name: 'on_hand_after' },
    reservedAfter: { type: 'int', name: 'reserved_after' },
    createdAt: { type: 'timestamptz', name: 'created_at' },
  },
});
