import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The sales report's read model (issue 21), fed by the orders service's own events: each order as
 * the report sees it, its lines, and hourly totals per currency (orders, revenue) and per product
 * (units, revenue; also per day). A report reads at most 24 rows per day and currency: 90 days are ~2,200 rows.
 */
export class OrdersSalesReport1700000500100 implements MigrationInterface {
  readonly name = 'OrdersSalesReport1700000500100';

  async up(q: QueryRunner): Promise<void> {
    // confirmed_hour: the hour the sale counts in (its confirmation); a cancellation or refund corrects that hour.
    await q.query(`
      CREATE TABLE sales_order (
        order_id text PRIMARY KEY,
        currency_code char(3) NOT NULL,
        total numeric(14, 2) NOT NULL,
        placed_at timestamptz NOT NULL,
        confirmed_hour timestamptz,
        cancelled boolean NOT NULL DEFAULT false,
        refunded numeric(14, 2) NOT NULL DEFAULT 0
      )`);
    await q.query(`
      CREATE TABLE sales_order_line (
        order_id text NOT NULL REFERENCES sales_order (order_id),
        product_id text NOT NULL,
        quantity int NOT NULL,
        revenue numeric(14, 2) NOT NULL,
        PRIMARY KEY (order_id, product_id)
      )`);
    await q.query(`
      CREATE TABLE sales_hour (
        currency_code char(3) NOT NULL,
        hour timestamptz NOT NULL,
        orders int NOT NULL,
        revenue numeric(16, 2) NOT NULL,
        PRIMARY KEY (currency_code, hour)
      )`);
    await q.query(`
      CREATE TABLE sales_product_hour (
        currency_code char(3) NOT NULL,
        hour timestamptz NOT NULL,
        product_id text NOT NULL,
        units int NOT NULL,
        revenue numeric(16, 2) NOT NULL,
        PRIMARY KEY (currency_code, hour, product_id)
      )`);
    // The same per day (UTC): top products of a long period read days, and hours only at its edges.
    await q.query(`
      CREATE TABLE sales_product_day (
        currency_code char(3) NOT NULL,
        day timestamptz NOT NULL,
        product_id text NOT NULL,
        units int NOT NULL,
        revenue numeric(16, 2) NOT NULL,
        PRIMARY KEY (currency_code, day, product_id)
      )`);
    // … and per month: 90 days of 2,000 products are ~6,000 month rows instead of ~39,000 day rows.
    await q.query(`
      CREATE TABLE sales_product_month (
        currency_code char(3) NOT NULL,
        month timestamptz NOT NULL,
        product_id text NOT NULL,
        units int NOT NULL,
        revenue numeric(16, 2) NOT NULL,
        PRIMARY KEY (currency_code, month, product_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE sales_product_month');
    await q.query('DROP TABLE sales_product_day');
    await q.query('DROP TABLE sales_product_hour');
    await q.query('DROP TABLE sales_hour');
    await q.query('DROP TABLE sales_order_line');
    await q.query('DROP TABLE sales_order');
  }
}
