import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The names of products (from catalog.product events), so that back-in-stock messages can say which product is back. */
export class UsersProductNames1700000400002 implements MigrationInterface {
  readonly name = 'UsersProductNames1700000400002';

  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE TABLE product_name (product_id uuid PRIMARY KEY, name text NOT NULL, slug text NOT NULL)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE product_name');
  }
}
