import type { MigrationInterface, QueryRunner } from 'typeorm';

export class OrdersInit1700000004000 implements MigrationInterface {
  readonly name = 'OrdersInit1700000004000';

  async up(q: QueryRunner): Promise<void> {
    // The orders' own read model of the catalog: checkout never calls another service.
    await q.query(`
      CREATE TABLE product_snapshot (
        product_id uuid PRIMARY KEY,
        name text NOT NULL,
        price numeric(12, 2) NOT NULL,
        currency_code char(3) NOT NULL,
        deleted boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE product_snapshot');
  }
}
