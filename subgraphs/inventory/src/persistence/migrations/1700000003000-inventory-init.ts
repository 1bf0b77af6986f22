import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InventoryInit1700000003000 implements MigrationInterface {
  readonly name = 'InventoryInit1700000003000';

  async up(q: QueryRunner): Promise<void> {
    // The CHECKs are the last line of defence against oversell: no update can make available negative.
    // initial_on_hand never changes: with the adjustments and the shipped reservations it lets the
    // reconciliation prove the ledger (initial + adjustments = on_hand + shipped).
    await q.query(`
      CREATE TABLE stock (
        product_id uuid PRIMARY KEY,
        on_hand int NOT NULL CHECK (on_hand >= 0),
        reserved int NOT NULL DEFAULT 0 CHECK (reserved >= 0),
        low_stock_threshold int NOT NULL DEFAULT 5 CHECK (low_stock_threshold >= 0),
        initial_on_hand int NOT NULL DEFAULT 0 CHECK (initial_on_hand >= 0),
        version int NOT NULL DEFAULT 1,
        updated_at timestamptz NOT NULL DEFAULT now(),
        closed_at timestamptz,
        CONSTRAINT stock_not_oversold CHECK (reserved <= on_hand)
      )`);
    // One row per (order, product): what an order holds, so a release or a shipment moves exactly
    // what was reserved, whatever the orders event says.
    await q.query(`
      CREATE TABLE reservation (
        order_id text NOT NULL,
        product_id uuid NOT NULL REFERENCES stock (product_id),
        quantity int NOT NULL CHECK (quantity > 0),
        status text NOT NULL CHECK (status IN ('RESERVED', 'RELEASED', 'SHIPPED')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (order_id, product_id)
      )`);
    await q.query(`CREATE INDEX reservation_open_by_product ON reservation (product_id) WHERE status = 'RESERVED'`);
    // The answer given to each order placed: a second placement of the same order (a new event id)
    // gets the same answer instead of a second reservation.
    await q.query(`
      CREATE TABLE reservation_decision (
        order_id text PRIMARY KEY,
        outcome text NOT NULL CHECK (outcome IN ('RESERVED', 'REJECTED')),
        answer jsonb NOT NULL,
        decided_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE inventory_adjustment (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        product_id uuid NOT NULL REFERENCES stock (product_id),
        delta int NOT NULL CHECK (delta <> 0),
        reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
        actor_id text NOT NULL,
        on_hand_after int NOT NULL,
        reserved_after int NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX inventory_adjustment_by_product ON inventory_adjustment (product_id, created_at DESC, id DESC)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE inventory_adjustment');
    await q.query('DROP TABLE reservation_decision');
    await q.query('DROP TABLE reservation');
    await q.query('DROP TABLE stock');
  }
}
