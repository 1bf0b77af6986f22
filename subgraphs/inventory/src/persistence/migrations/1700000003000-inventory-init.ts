import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InventoryInit1700000003000 implements MigrationInterface {
  readonly name = 'InventoryInit1700000003000';

  async up(q: QueryRunner): Promise<void> {
    // The CHECKs are the last line of defence against oversell: no update can make available negative.
    await q.query(`
      CREATE TABLE stock (
        product_id uuid PRIMARY KEY,
        on_hand int NOT NULL CHECK (on_hand >= 0),
        reserved int NOT NULL DEFAULT 0 CHECK (reserved >= 0),
        low_stock_threshold int NOT NULL DEFAULT 5 CHECK (low_stock_threshold >= 0),
        version int NOT NULL DEFAULT 1,
        updated_at timestamptz NOT NULL DEFAULT now(),
        closed_at timestamptz,
        CONSTRAINT stock_not_oversold CHECK (reserved <= on_hand)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE stock');
  }
}
