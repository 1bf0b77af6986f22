/**
 * A large made-up catalogue in a few SQL statements (seeded random: reproducible): for the
 * benchmark (subgraphs/catalog/bench) and for CATALOG_DEMO_EXTRA_PRODUCTS. Names are
 * "<Brand> <adjective> <noun> <colour>" from 20,000 made-up brands, so the search vocabulary has a
 * realistic size; 30 % of the products have reviews' totals, 15 % are out of stock.
 */
import type { Queryable } from './catalog.repository';
import { CatalogRepository } from './catalog.repository';

const ADJECTIVES = ['wireless', 'portable', 'compact', 'ergonomic', 'premium', 'classic', 'smart', 'digital', 'organic', 'vintage', 'ultra', 'professional', 'mini', 'heavy-duty', 'waterproof', 'foldable', 'electric', 'manual', 'adjustable', 'rechargeable', 'noise-cancelling', 'lightweight', 'insulated', 'stainless', 'bamboo'];
const NOUNS = ['headphones', 'speaker', 'keyboard', 'mouse', 'monitor', 'laptop', 'tablet', 'charger', 'camera', 'lamp', 'chair', 'desk', 'kettle', 'blender', 'knife', 'skillet', 'backpack', 'tent', 'bottle', 'jacket', 'shoes', 'watch', 'mat', 'grinder', 'router', 'drone', 'projector', 'printer', 'microphone', 'thermostat', 'vacuum', 'toaster', 'umbrella', 'sunglasses', 'wallet', 'guitar', 'bicycle', 'helmet', 'scooter', 'pillow'];
const COLOURS = ['black', 'white', 'silver', 'blue', 'red', 'green', 'oak', 'graphite'];
const PHRASES = ['with long battery life', 'for everyday use', 'built to last', 'with a two-year warranty', 'for travel and outdoors', 'with fast charging', 'made from recycled materials', 'for home and office'];

/**
 * Inserts `count` products spread over `categoryIds` (slugs `<slugPrefix><n>`, pictures served by
 * the catalog), their availability, units sold for a popularity spread, and the search vocabulary.
 * `reviewTotals`: give 30 % of them rating totals without review rows (benchmark only: the demo
 * keeps totals equal to its reviews).
 */
export async function generateProducts(db: Queryable, options: { count: number; categoryIds: readonly string[]; slugPrefix: string; reviewTotals: boolean }): Promise<void> {
  await db.query('SELECT setseed(0.42)');
  await db.query(
    `WITH rows AS (
       SELECT i,
         $1::text[] AS adj, $2::text[] AS noun, $3::text[] AS colour, $4::text[] AS phrase,
         floor(random() * 25)::int + 1 AS a, floor(random() * 40)::int + 1 AS n, floor(random() * 8)::int + 1 AS c,
         floor(random() * 8)::int + 1 AS ph, floor(random() * cardinality($6::uuid[]))::int + 1 AS cat,
         CASE WHEN $8 AND random() < 0.3 THEN floor(random() * 50)::int + 1 ELSE 0 END AS reviews,
         1 + random() * 4 AS avg,
         floor(random() ^ 4 * 200)::int AS sold,
         translate(substr(md5((i % 20000)::text), 1, 5 + i % 4), '0123456789', 'aeiouybkrt') AS brand
       FROM generate_series(1, $5::int) i
     )
     INSERT INTO product (name, slug, description, price, currency_code, category_id, image_urls, rating_sum, review_count, units_sold, created_at, updated_at)
     SELECT initcap(brand) || ' ' || adj[a] || ' ' || noun[n] || ' ' || colour[c],
            $7 || i,
            'A ' || colour[c] || ' ' || adj[a] || ' ' || noun[n] || ' by ' || initcap(brand) || ' ' || phrase[ph] || '. Model ' || i || '.',
            round((1 + random() * 1999)::numeric, 2), 'USD', ($6::uuid[])[cat], ARRAY['/images/products/' || $7 || i || '.svg'],
            round(reviews * avg)::int, reviews, sold,
            now() - random() * interval '365 days', now()
     FROM rows`,
    [ADJECTIVES, NOUNS, COLOURS, PHRASES, options.count, options.categoryIds, options.slugPrefix, options.reviewTotals],
  );
  await db.query(
    `INSERT INTO product_availability (product_id, available, version)
     SELECT id, CASE WHEN random() < 0.15 THEN 0 ELSE floor(random() * 100)::int + 1 END, 1 FROM product WHERE slug LIKE $1 || '%'
     ON CONFLICT (product_id) DO NOTHING`,
    [options.slugPrefix],
  );
  await new CatalogRepository(db).rebuildSearchTerms();
}
