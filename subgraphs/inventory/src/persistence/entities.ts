import { EntitySchema } from 'typeorm';

/** Stock of one product. `available` is derived: on_hand - reserved. */
export interface StockRow {
  productId: string;
  onHand: number;
  reserved: number;
  lowStockThreshold: number;
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
    version: { type: 'int' },
    updatedAt: { type: 'timestamptz', name: 'updated_at' },
    closedAt: { type: 'timestamptz', name: 'closed_at', nullable: true },
  },
});
