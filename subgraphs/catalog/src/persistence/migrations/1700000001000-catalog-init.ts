import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The catalog's tables: categories (a tree), products (soft-deleted, with a weighted full-text
 * vector and the rating kept beside the reviews), reviews, the search vocabulary used for typo
 * correction, and the read model of availability fed by inventory's stock events.
 */
export class CatalogInit1700000001000 implements MigrationInterface {
  readonly name = 'CatalogInit1700000001000';

  async up(q: QueryRunner): Promise<void> {
    // Slugs and search terms are ASCII/lower-case keys compared byte-wise (COLLATE "C"), so their
    // unique btrees also answer prefix ranges ("chef-knife-…") whatever the cluster's locale.
    // pg_trgm is a "trusted" extension (Postgres 13+): the database owner may create it, no superuser needed.
    await q.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    // btree_gist (trusted too) lets one GiST index hold (category_id, name trigrams): nearest names within a category.
    await q.query('CREATE EXTENSION IF NOT EXISTS btree_gist');
    await q.query(`
      CREATE TABLE category (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
        slug text COLLATE "C" NOT NULL UNIQUE,
        parent_id uuid REFERENCES category (id),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX category_parent ON category (parent_id)');
    // Two siblings may not share a name (case-insensitive); the same name under different parents is fine.
    await q.query(`CREATE UNIQUE INDEX category_name_per_parent ON category (coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid), lower(name))`);

    // rating_avg is 0 without reviews (ratings are 1..5, so such products sort last); the API answers null then.
    // The generated columns are recomputed by Postgres on every write, so they can never drift from their inputs.
    await q.query(`
      CREATE TABLE product (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        slug text COLLATE "C" NOT NULL UNIQUE,
        description text NOT NULL,
        price numeric(12, 2) NOT NULL CHECK (price >= 0),
        currency_code char(3) NOT NULL,
        category_id uuid NOT NULL REFERENCES category (id),
        image_urls text[] NOT NULL DEFAULT '{}',
        rating_sum int NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
        review_count int NOT NULL DEFAULT 0 CHECK (review_count >= 0),
        rating_avg numeric NOT NULL GENERATED ALWAYS AS (CASE WHEN review_count > 0 THEN rating_sum::numeric / review_count ELSE 0 END) STORED,
        search_vector tsvector NOT NULL GENERATED ALWAYS AS (
          setweight(to_tsvector('english'::regconfig, name), 'A') || setweight(to_tsvector('english'::regconfig, description), 'B')
        ) STORED,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz
      )`);
    // One index per sort order (keyset pagination walks them); all partial on live products.
    await q.query('CREATE INDEX product_newest ON product (created_at DESC, id DESC) WHERE deleted_at IS NULL');
    await q.query('CREATE INDEX product_price ON product (price, id) WHERE deleted_at IS NULL');
    await q.query('CREATE INDEX product_rating ON product (rating_avg DESC, review_count DESC, id DESC) WHERE deleted_at IS NULL');
    await q.query('CREATE INDEX product_category ON product (category_id, created_at DESC, id DESC) WHERE deleted_at IS NULL');
    await q.query('CREATE INDEX product_search ON product USING gin (search_vector) WHERE deleted_at IS NULL');
    // Similar products: price neighbours within a category, and nearest names within a category
    // (GiST answers `WHERE category_id = … ORDER BY name <-> …` by walking the index).
    await q.query('CREATE INDEX product_category_price ON product (category_id, price, id) WHERE deleted_at IS NULL');
    await q.query('CREATE INDEX product_category_name_trgm ON product USING gist (category_id, name gist_trgm_ops) WHERE deleted_at IS NULL');

    await q.query(`
      CREATE TABLE review (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        product_id uuid NOT NULL REFERENCES product (id),
        author_id text NOT NULL,
        rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
        comment text CHECK (length(comment) <= 2000),
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT review_one_per_author UNIQUE (product_id, author_id)
      )`);
    await q.query('CREATE INDEX review_by_product ON review (product_id, created_at DESC, id DESC)');

    // Every word (lower case, 3+ characters) that ever appeared in a product's name or description:
    // a query word that is not in it is corrected to its nearest neighbours by trigram similarity.
    // COLLATE "C" lets the primary key serve prefix lookups (LIKE 'word%').
    await q.query('CREATE TABLE search_term (term text COLLATE "C" PRIMARY KEY)');
    await q.query('CREATE INDEX search_term_trgm ON search_term USING gin (term gin_trgm_ops)');

    // Read model of inventory: what `inStock` filters on, never a call to inventory at query time.
    // version is inventory's per-product stock version: an event older than the row is ignored.
    // No foreign key: stock events may name products this catalog has not (yet) seen; they are kept, and harmless.
    await q.query(`
      CREATE TABLE product_availability (
        product_id uuid PRIMARY KEY,
        available int NOT NULL,
        version bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX product_availability_in_stock ON product_availability (product_id) WHERE available > 0');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE product_availability');
    await q.query('DROP TABLE search_term');
    await q.query('DROP TABLE review');
    await q.query('DROP TABLE product');
    await q.query('DROP TABLE category');
  }
}
