import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CatalogInit1700000001000 implements MigrationInterface {
  readonly name = 'CatalogInit1700000001000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE category (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL,
        slug text NOT NULL UNIQUE,
        parent_id uuid REFERENCES category (id),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE product (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL,
        slug text NOT NULL UNIQUE,
        description text NOT NULL,
        price numeric(12, 2) NOT NULL CHECK (price >= 0),
        currency_code char(3) NOT NULL,
        category_id uuid NOT NULL REFERENCES category (id),
        image_urls text[] NOT NULL DEFAULT '{}',
        rating_sum int NOT NULL DEFAULT 0,
        review_count int NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz
      )`);
    await q.query('CREATE INDEX product_category ON product (category_id) WHERE deleted_at IS NULL');
    await q.query('CREATE INDEX product_created ON product (created_at DESC, id) WHERE deleted_at IS NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE product');
    await q.query('DROP TABLE category');
  }
}
