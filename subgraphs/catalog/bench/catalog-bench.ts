/**
 * Catalog search benchmark: 100,000 products in a scratch database, EXPLAIN (ANALYZE) of the main
 * query shapes (the exact SQL the service builds) and the latency of `products(...)` as the
 * service answers it (spelling correction + page query), then the scratch database is dropped.
 *
 *   npx tsx subgraphs/catalog/bench/catalog-bench.ts                    # embedded Postgres in a temp dir
 *   BENCH_DATABASE_URL=postgres://u:p@host:5432/postgres npx tsx subgraphs/catalog/bench/catalog-bench.ts
 *
 * Options (environment): BENCH_PRODUCTS (default 100000), BENCH_RUNS per search (default 30),
 * BENCH_KEEP=1 keeps the scratch database. Prints Markdown (the numbers in docs/notes/catalog.md).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type { ServiceDeps } from '@shop/platform';
import { createDataSource, PlatformOutboxInbox1700000000000, withDatabase } from '@shop/platform';
import { startEmbeddedPostgres } from '@shop/platform';
import { CatalogService } from '../src/catalog.service';
import { createLoaders } from '../src/loaders';
import { CatalogRepository, SIMILAR_SQL, SPELLING_SQL } from '../src/persistence/catalog.repository';
import { DiscoveryRepository } from '../src/persistence/discovery.repository';
import { CATALOG_ENTITIES } from '../src/persistence/entities';
import { CatalogInit1700000001000 } from '../src/persistence/migrations/1700000001000-catalog-init';
import type { ProductQuerySpec } from '../src/persistence/product-query';
import { buildCountQuery, buildPageQuery } from '../src/persistence/product-query';
import { validateFilter } from '../src/domain/product-rules';
import { buildTsQuery, correctableWords, pickAlternatives } from '../src/domain/search-query';
import type { ProductFilterInput, ProductSort } from '../src/domain/types';

const PRODUCTS = Number(process.env['BENCH_PRODUCTS'] ?? 100_000);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 30);

const ADJECTIVES = ['wireless', 'portable', 'compact', 'ergonomic', 'premium', 'classic', 'smart', 'digital', 'organic', 'vintage', 'ultra', 'professional', 'mini', 'heavy-duty', 'waterproof', 'foldable', 'electric', 'manual', 'adjustable', 'rechargeable', 'noise-cancelling', 'lightweight', 'insulated', 'stainless', 'bamboo'];
const NOUNS = ['headphones', 'speaker', 'keyboard', 'mouse', 'monitor', 'laptop', 'tablet', 'charger', 'camera', 'lamp', 'chair', 'desk', 'kettle', 'blender', 'knife', 'skillet', 'backpack', 'tent', 'bottle', 'jacket', 'shoes', 'watch', 'mat', 'grinder', 'router', 'drone', 'projector', 'printer', 'microphone', 'thermostat', 'vacuum', 'toaster', 'umbrella', 'sunglasses', 'wallet', 'guitar', 'bicycle', 'helmet', 'scooter', 'pillow'];
const COLOURS = ['black', 'white', 'silver', 'blue', 'red', 'green', 'oak', 'graphite'];
const PHRASES = ['with long battery life', 'for everyday use', 'built to last', 'with a two-year warranty', 'for travel and outdoors', 'with fast charging', 'made from recycled materials', 'for home and office'];

async function main(): Promise<void> {
  const embedded = process.env['BENCH_DATABASE_URL'] ? null : await startEmbeddedPostgres({ dataDir: path.join(os.tmpdir(), 'catalog-bench-postgres'), port: 54339 });
  const adminUrl = process.env['BENCH_DATABASE_URL'] ?? embedded!.url('postgres');
  const dbName = `catalog_bench_${randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = withDatabase(adminUrl, dbName);
  const dataSource = createDataSource({ url, name: 'catalog-bench', entities: CATALOG_ENTITIES, migrations: [PlatformOutboxInbox1700000000000, CatalogInit1700000001000] });
  const out: string[] = [];
  const print = (line = '') => {
    out.push(line);
    process.stdout.write(`${line}\n`);
  };
  try {
    await dataSource.initialize();
    await dataSource.runMigrations({ transaction: 'each' });
    const t0 = Date.now();
    await generate(dataSource);
    print(`## Catalog benchmark: ${PRODUCTS.toLocaleString('en-US')} products`);
    print();
    print(`Postgres ${await serverVersion(dataSource)}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), data generated in ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
    const [{ size }] = (await dataSource.query(`SELECT pg_size_pretty(pg_total_relation_size('product')) AS size`)) as [{ size: string }];
    const [{ terms }] = (await dataSource.query('SELECT count(*)::int AS terms FROM search_term')) as [{ terms: number }];
    print(`product table with indexes: ${size}; search vocabulary: ${terms} words.`);
    print();

    const repo = new CatalogRepository(dataSource);
    const discovery = new DiscoveryRepository(dataSource);
    const specFor = async (filterInput: ProductFilterInput, sort: ProductSort): Promise<ProductQuerySpec> => {
      const filter = validateFilter(filterInput);
      const tsquery = filter.searchWords.length
        ? buildTsQuery(filter.searchWords, pickAlternatives(await repo.spellingCandidates(correctableWords(filter.searchWords))))
        : null;
      return { filter, tsquery, sort };
    };
    const someProduct = ((await dataSource.query(`SELECT id FROM product WHERE name LIKE '% wireless headphones %' LIMIT 1`)) as Array<{ id: string }>)[0]!.id;
    const page1 = await repo.pageProducts(await specFor({}, 'NEWEST'), null, 21);
    const shapes: Array<[string, ProductFilterInput, ProductSort, 'page' | 'page2' | 'count']> = [
      ['Browse, newest first (first page)', {}, 'NEWEST', 'page'],
      ['Browse, newest first (next page, keyset)', {}, 'NEWEST', 'page2'],
      ['Search "wireless headphones" by relevance', { search: 'wireless headphones' }, 'RELEVANCE', 'page'],
      ['Search with a typo "wireless hedphones" by relevance', { search: 'wireless hedphones' }, 'RELEVANCE', 'page'],
      ['Category subtree + price range + in stock, price ascending', { categorySlug: 'dept-3', minPrice: '100', maxPrice: '500', inStock: true }, 'PRICE_ASC', 'page'],
      ['Minimum rating 4, best rated first', { minRating: 4 }, 'RATING_DESC', 'page'],
      ['Search + every filter, price descending', { search: 'portable speaker', categorySlug: 'dept-2', minPrice: '20', maxPrice: '1500', minRating: 2, inStock: true }, 'PRICE_DESC', 'page'],
      ['totalCount of a search', { search: 'wireless headphones' }, 'RELEVANCE', 'count'],
    ];
    const explain = async (title: string, sql: string, params: unknown[]) => {
      await dataSource.query(sql, params); // warm the cache and the plan
      const plan = (await dataSource.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`, params)) as Array<{ 'QUERY PLAN': string }>;
      print(`#### ${title}`);
      print();
      print('```');
      for (const row of plan) print(row['QUERY PLAN']);
      print('```');
      print();
    };
    print('### EXPLAIN (ANALYZE, BUFFERS) of the main query shapes');
    print();
    for (const [title, filter, sort, kind] of shapes) {
      const spec = await specFor(filter, sort);
      const statement = kind === 'count' ? buildCountQuery(spec) : buildPageQuery(spec, kind === 'page2' ? page1[19]!.position : null, 21);
      await explain(title, statement.sql, statement.params);
    }
    await explain('Spelling candidates of "wireless hedphones"', SPELLING_SQL, [['wireless', 'hedphones']]);
    await explain('Similar products of one product (first: 5)', SIMILAR_SQL, [[someProduct], 5]);

    // Latency as a client sees it from the service (no HTTP): validation, spelling correction, page query.
    const deps = { dataSource } as unknown as ServiceDeps; // products() never writes: no outbox or bus needed
    const latency: Array<[string, ProductFilterInput, ProductSort]> = [
      ['browse, newest', {}, 'NEWEST'],
      ['search "headphones"', { search: 'headphones' }, 'RELEVANCE'],
      ['search "wireless headphones"', { search: 'wireless headphones' }, 'RELEVANCE'],
      ['search typo "wireless hedphones"', { search: 'wireless hedphones' }, 'RELEVANCE'],
      ['search "stainless kettle", price ascending', { search: 'stainless kettle' }, 'PRICE_ASC'],
      ['search + all filters', { search: 'portable speaker', categorySlug: 'dept-2', minPrice: '20', maxPrice: '1500', minRating: 2, inStock: true }, 'PRICE_DESC'],
      ['category subtree + price + in stock', { categorySlug: 'dept-3', minPrice: '100', maxPrice: '500', inStock: true }, 'PRICE_ASC'],
      ['rating >= 4, best rated', { minRating: 4 }, 'RATING_DESC'],
    ];
    print(`### Latency of products(first: 20) on ${PRODUCTS.toLocaleString('en-US')} products (${RUNS} runs each, ms)`);
    print();
    print('| query | matches | p50 | p95 | max | + totalCount p50 |');
    print('|---|---:|---:|---:|---:|---:|');
    for (const [title, filter, sort] of latency) {
      const times: number[] = [];
      const withCount: number[] = [];
      let total = 0;
      for (let i = 0; i < RUNS + 3; i++) {
        const service = new CatalogService(deps, repo, createLoaders(repo, discovery), discovery);
        const started = process.hrtime.bigint();
        const connection = await service.products({ filter, sort, first: 20 });
        const pageMs = Number(process.hrtime.bigint() - started) / 1e6;
        total = await connection.totalCount();
        const allMs = Number(process.hrtime.bigint() - started) / 1e6;
        if (i >= 3) {
          times.push(pageMs);
          withCount.push(allMs);
        }
      }
      const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
      print(`| ${title} | ${total} | ${pct(times, 50).toFixed(1)} | ${pct(times, 95).toFixed(1)} | ${Math.max(...times).toFixed(1)} | ${pct(withCount, 50).toFixed(1)} |`);
    }
    const similarTimes: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const started = process.hrtime.bigint();
      await repo.similarTo([someProduct], 5);
      similarTimes.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    similarTimes.sort((a, b) => a - b);
    print();
    print(`similar(first: 5) of one product: p50 ${similarTimes[Math.floor(RUNS / 2)]!.toFixed(1)} ms, p95 ${similarTimes[Math.floor(RUNS * 0.95)]!.toFixed(1)} ms.`);
  } finally {
    await dataSource.destroy().catch(() => undefined);
    if (process.env['BENCH_KEEP'] !== '1') await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    await embedded?.stop();
  }
}

async function serverVersion(ds: { query(sql: string): Promise<unknown> }): Promise<string> {
  const [row] = (await ds.query('SHOW server_version')) as Array<{ server_version: string }>;
  return row?.server_version ?? '?';
}

/** 110 categories (10 departments of 10 aisles) and PRODUCTS products, generated in SQL (seeded random: reproducible). */
async function generate(ds: { query(sql: string, params?: unknown[]): Promise<any> }): Promise<void> {
  await ds.query('SELECT setseed(0.42)');
  await ds.query(`INSERT INTO category (name, slug) SELECT 'Department ' || d, 'dept-' || d FROM generate_series(1, 10) d`);
  await ds.query(`INSERT INTO category (name, slug, parent_id)
    SELECT 'Aisle ' || d || '.' || a, 'aisle-' || d || '-' || a, (SELECT id FROM category WHERE slug = 'dept-' || d)
    FROM generate_series(1, 10) d, generate_series(1, 10) a`);
  await ds.query(
    `WITH aisles AS (SELECT array_agg(id ORDER BY slug) AS ids FROM category WHERE parent_id IS NOT NULL),
     rows AS (
       SELECT i,
         $1::text[] AS adj, $2::text[] AS noun, $3::text[] AS colour, $4::text[] AS phrase,
         floor(random() * 25)::int + 1 AS a, floor(random() * 40)::int + 1 AS n, floor(random() * 8)::int + 1 AS c,
         floor(random() * 8)::int + 1 AS ph, floor(random() * 100)::int + 1 AS aisle,
         CASE WHEN random() < 0.3 THEN floor(random() * 50)::int + 1 ELSE 0 END AS reviews,
         1 + random() * 4 AS avg,
         -- 20,000 made-up brand names (letters from an md5): a vocabulary of realistic size for the typo index.
         translate(substr(md5((i % 20000)::text), 1, 5 + i % 4), '0123456789', 'aeiouybkrt') AS brand
       FROM generate_series(1, $5::int) i
     )
     INSERT INTO product (name, slug, description, price, currency_code, category_id, rating_sum, review_count, created_at, updated_at)
     SELECT initcap(brand) || ' ' || adj[a] || ' ' || noun[n] || ' ' || colour[c],
            'p-' || i,
            'A ' || colour[c] || ' ' || adj[a] || ' ' || noun[n] || ' by ' || initcap(brand) || ' ' || phrase[ph] || '. Model ' || i || '.',
            round((1 + random() * 1999)::numeric, 2), 'USD', (SELECT ids FROM aisles)[aisle],
            round(reviews * avg)::int, reviews,
            now() - random() * interval '365 days', now()
     FROM rows`,
    [ADJECTIVES, NOUNS, COLOURS, PHRASES, PRODUCTS],
  );
  await ds.query(`INSERT INTO product_availability (product_id, available, version)
    SELECT id, CASE WHEN random() < 0.15 THEN 0 ELSE floor(random() * 100)::int + 1 END, 1 FROM product`);
  await new CatalogRepository(ds).rebuildSearchTerms();
  await ds.query('VACUUM ANALYZE product');
  await ds.query('VACUUM ANALYZE product_availability');
  await ds.query('VACUUM ANALYZE search_term');
  await ds.query('ANALYZE category');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
