import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Discovery (issue 21): suggestions as you type, popularity, and the read models fed by order
 * events (bought together, each customer's purchases) plus a cache of similar products.
 */
export class CatalogDiscovery1700000500000 implements MigrationInterface {
  readonly name = 'CatalogDiscovery1700000500000';

  async up(q: QueryRunner): Promise<void> {
    // fuzzystrmatch (trusted, ships with the embedded Postgres): Levenshtein distance of a typed prefix to the start of vocabulary words.
    await q.query('CREATE EXTENSION IF NOT EXISTS fuzzystrmatch');
    // Units sold in confirmed orders (from order events): with the review count it makes popularity.
    await q.query('ALTER TABLE product ADD COLUMN units_sold int NOT NULL DEFAULT 0');
    await q.query('ALTER TABLE product ADD COLUMN popularity int NOT NULL GENERATED ALWAYS AS (units_sold * 2 + review_count) STORED');
    // The words of the name, unstemmed ('simple'): a typed prefix matches the word as written ("runn" finds "running").
    await q.query(`ALTER TABLE product ADD COLUMN name_words tsvector NOT NULL GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, name)) STORED`);
    await q.query('CREATE INDEX product_name_words ON product USING gin (name_words) WHERE deleted_at IS NULL');
    await q.query('CREATE INDEX product_popular ON product (popularity DESC, id) WHERE deleted_at IS NULL');
    await q.query('CREATE INDEX category_name_trgm ON category USING gin (lower(name) gin_trgm_ops)');

    // Lines of orders placed but not yet confirmed (orders.order-placed.v1 carries them; the confirmation does not).
    await q.query(`
      CREATE TABLE order_line_pending (
        order_id text NOT NULL,
        product_id uuid NOT NULL,
        user_id text,
        quantity int NOT NULL CHECK (quantity > 0),
        placed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (order_id, product_id)
      )`);
    // How many confirmed orders held both products (both directions stored: one index walk per product).
    await q.query(`
      CREATE TABLE bought_together (
        product_id uuid NOT NULL,
        other_id uuid NOT NULL,
        orders int NOT NULL,
        PRIMARY KEY (product_id, other_id)
      )`);
    await q.query('CREATE INDEX bought_together_rank ON bought_together (product_id, orders DESC, other_id)');
    // What each customer bought in confirmed orders (recommendations: theirs, and similar customers').
    await q.query(`
      CREATE TABLE customer_purchase (
        user_id text NOT NULL,
        product_id uuid NOT NULL,
        quantity int NOT NULL,
        last_bought_at timestamptz NOT NULL,
        PRIMARY KEY (user_id, product_id)
      )`);
    await q.query('CREATE INDEX customer_purchase_by_product ON customer_purchase (product_id, user_id)');
    // Similar products, computed once per product and dropped when a product of its family changes.
    await q.query(`
      CREATE TABLE similar_cache (
        product_id uuid PRIMARY KEY,
        category_id uuid NOT NULL,
        similar_ids uuid[] NOT NULL,
        computed_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX similar_cache_category ON similar_cache (category_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE similar_cache');
    await q.query('DROP TABLE customer_purchase');
    await q.query('DROP TABLE bought_together');
    await q.query('DROP TABLE order_line_pending');
    await q.query('DROP INDEX category_name_trgm');
    await q.query('ALTER TABLE product DROP COLUMN name_words, DROP COLUMN popularity, DROP COLUMN units_sold');
  }
}
