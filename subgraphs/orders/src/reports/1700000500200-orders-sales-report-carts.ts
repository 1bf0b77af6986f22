import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Carts in the sales report (issue 21): per hour (UTC), the carts created (`orders.cart-created.v1`)
 * and the carts checked out (`orders.cart-checked-out.v1`), for the report's conversion.
 */
export class OrdersSalesReportCarts1700000500200 implements MigrationInterface {
  readonly name = 'OrdersSalesReportCarts1700000500200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sales_cart_hour (
        hour timestamptz PRIMARY KEY,
        created int NOT NULL DEFAULT 0,
        checked_out int NOT NULL DEFAULT 0
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE sales_cart_hour');
  }
}
