import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The price ranges' lower bounds (PRICE_FACET_BOUNDS in product-query.ts names the same ones). */
const PRICE_BOUNDS_SQL = `'{0,25,50,100,250,500,1000,2500}'::numeric[]`;

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
    // Most popular first, with the name words inside the index: suggestions walk it and test each
    // entry's words without touching the wide product rows (an index-only scan: 6 ms instead of 50
    // for a two-letter prefix at 100,000 products, under load); recommendations' popular fallback too.
    await q.query('CREATE INDEX product_popular ON product (popularity DESC, id) INCLUDE (name_words, name) WHERE deleted_at IS NULL');
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

    // Facet counts without a search, kept by triggers: live products per (category, price range,
    // whole stars of the rating, in stock). At most categories × 9 × 6 × 2 rows, so a sidebar over
    // the whole catalogue reads a few hundred rows instead of scanning every product.
    await q.query(`
      CREATE TABLE facet_cell (
        category_id uuid NOT NULL,
        bucket int NOT NULL,
        rating_floor int NOT NULL,
        in_stock boolean NOT NULL,
        n int NOT NULL CHECK (n >= 0),
        PRIMARY KEY (category_id, bucket, rating_floor, in_stock)
      )`);
    await q.query(`
      CREATE FUNCTION facet_bucket(price numeric) RETURNS int LANGUAGE sql IMMUTABLE PARALLEL SAFE
      AS $$ SELECT width_bucket(price, ${PRICE_BOUNDS_SQL}) $$`);
    await q.query(`
      CREATE FUNCTION facet_cell_add(p_category uuid, p_price numeric, p_rating numeric, p_in_stock boolean, delta int) RETURNS void LANGUAGE sql
      AS $$
        INSERT INTO facet_cell AS f (category_id, bucket, rating_floor, in_stock, n)
        VALUES (p_category, facet_bucket(p_price), floor(p_rating)::int, p_in_stock, greatest(delta, 0))
        ON CONFLICT (category_id, bucket, rating_floor, in_stock) DO UPDATE SET n = f.n + delta
      $$`);
    // A product's own change: out of its old cell, into its new one (live products only). Its
    // stock status is read under the product's row lock, which the stock trigger takes too.
    await q.query(`
      CREATE FUNCTION product_facets_change() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE stocked boolean;
      BEGIN
        stocked := EXISTS (SELECT 1 FROM product_availability a WHERE a.product_id = coalesce(NEW.id, OLD.id) AND a.available > 0);
        IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.deleted_at IS NULL THEN
          PERFORM facet_cell_add(OLD.category_id, OLD.price, OLD.rating_avg, stocked, -1);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.deleted_at IS NULL THEN
          PERFORM facet_cell_add(NEW.category_id, NEW.price, NEW.rating_avg, stocked, 1);
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`CREATE TRIGGER product_facets AFTER INSERT OR DELETE OR UPDATE OF category_id, price, rating_sum, review_count, deleted_at ON product
      FOR EACH ROW EXECUTE FUNCTION product_facets_change()`);
    // A stock change that crosses zero moves its (live) product between in stock and not.
    await q.query(`
      CREATE FUNCTION availability_facets_change() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE was boolean; now_in boolean; p record;
      BEGIN
        was := TG_OP <> 'INSERT' AND OLD.available > 0;
        now_in := TG_OP <> 'DELETE' AND NEW.available > 0;
        IF was = now_in THEN RETURN NULL; END IF;
        SELECT category_id, price, rating_avg, deleted_at INTO p FROM product WHERE id = coalesce(NEW.product_id, OLD.product_id) FOR UPDATE;
        IF NOT FOUND OR p.deleted_at IS NOT NULL THEN RETURN NULL; END IF;
        PERFORM facet_cell_add(p.category_id, p.price, p.rating_avg, was, -1);
        PERFORM facet_cell_add(p.category_id, p.price, p.rating_avg, now_in, 1);
        RETURN NULL;
      END $$`);
    await q.query(`CREATE TRIGGER availability_facets AFTER INSERT OR DELETE OR UPDATE OF available ON product_availability
      FOR EACH ROW EXECUTE FUNCTION availability_facets_change()`);
    // Products that exist already (the migration runs on a live catalogue).
    await q.query(`INSERT INTO facet_cell (category_id, bucket, rating_floor, in_stock, n)
      SELECT p.category_id, facet_bucket(p.price), floor(p.rating_avg)::int, coalesce(a.available > 0, false), count(*)
      FROM product p LEFT JOIN product_availability a ON a.product_id = p.id WHERE p.deleted_at IS NULL GROUP BY 1, 2, 3, 4`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TRIGGER availability_facets ON product_availability');
    await q.query('DROP TRIGGER product_facets ON product');
    await q.query('DROP FUNCTION availability_facets_change, product_facets_change, facet_cell_add, facet_bucket');
    await q.query('DROP TABLE facet_cell');
    await q.query('DROP TABLE similar_cache');
    await q.query('DROP TABLE customer_purchase');
    await q.query('DROP TABLE bought_together');
    await q.query('DROP TABLE order_line_pending');
    await q.query('DROP INDEX category_name_trgm');
    await q.query('ALTER TABLE product DROP COLUMN name_words, DROP COLUMN popularity, DROP COLUMN units_sold');
  }
}
