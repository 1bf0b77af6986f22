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
import type { DataSource } from 'typeorm';
import { createDataSource, PlatformOutboxInbox1700000000000, withDatabase } from '@shop/platform';
import { startEmbeddedPostgres } from '@shop/platform';
import { CatalogService } from '../src/catalog.service';
import { createLoaders } from '../src/loaders';
import { CatalogRepository, SIMILAR_SQL, SPELLING_SQL } from '../src/persistence/catalog.repository';
import { DiscoveryRepository } from '../src/persistence/discovery.repository';
import { CATALOG_ENTITIES } from '../src/persistence/entities';
import { generateProducts } from '../src/persistence/generated-catalogue';
import { CatalogInit1700000001000 } from '../src/persistence/migrations/1700000001000-catalog-init';
import { CatalogDiscovery1700000500000 } from '../src/persistence/migrations/1700000500000-catalog-discovery';
import { DiscoveryService } from '../src/discovery.service';
import type { ProductQuerySpec } from '../src/persistence/product-query';
import { buildCountQuery, buildPageQuery } from '../src/persistence/product-query';
import { validateFilter } from '../src/domain/product-rules';
import { buildTsQuery, correctableWords, pickAlternatives } from '../src/domain/search-query';
import type { ProductFilterInput, ProductSort } from '../src/domain/types';

const PRODUCTS = Number(process.env['BENCH_PRODUCTS'] ?? 100_000);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 30);

async function main(): Promise<void> {
  const embedded = process.env['BENCH_DATABASE_URL'] ? null : await startEmbeddedPostgres({ dataDir: path.join(os.tmpdir(), 'catalog-bench-postgres'), port: 54339 });
  const adminUrl = process.env['BENCH_DATABASE_URL'] ?? embedded!.url('postgres');
  const dbName = `catalog_bench_${randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = withDatabase(adminUrl, dbName);
  const dataSource = createDataSource({ url, name: 'catalog-bench', entities: CATALOG_ENTITIES, migrations: [PlatformOutboxInbox1700000000000, CatalogInit1700000001000, CatalogDiscovery1700000500000] });
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
    print(`similar(first: 5) of one product, computed (a cache miss): p50 ${similarTimes[Math.floor(RUNS / 2)]!.toFixed(1)} ms, p95 ${similarTimes[Math.floor(RUNS * 0.95)]!.toFixed(1)} ms.`);
    print();
    await discoveryBench(dataSource, deps, repo, discovery, print);
  } finally {
    await dataSource.destroy().catch(() => undefined);
    if (process.env['BENCH_KEEP'] !== '1') await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    await embedded?.stop();
  }
}

/** p50 and p95 of `RUNS` calls of `fn` after 3 warm-up calls, in ms. */
async function measure(fn: () => Promise<unknown>): Promise<{ p50: number; p95: number }> {
  const times: number[] = [];
  for (let i = 0; i < RUNS + 3; i++) {
    const started = process.hrtime.bigint();
    await fn();
    if (i >= 3) times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length / 2)]!, p95: times[Math.min(times.length - 1, Math.floor(times.length * 0.95))]! };
}

/**
 * The targets of issue 21 with measured p50/p95 (in-process, no HTTP): suggestions, products with
 * facets, similar (cached), bought together and recommendations, on a synthetic order history
 * (8 partners per product, 20,000 customers with 5 purchases each).
 */
async function discoveryBench(ds: DataSource, deps: ServiceDeps, repo: CatalogRepository, discovery: DiscoveryRepository, print: (line?: string) => void): Promise<void> {
  const t0 = Date.now();
  await ds.query(`WITH n AS (SELECT id, row_number() OVER (ORDER BY id) AS k FROM product), c AS (SELECT count(*) AS total FROM product)
    INSERT INTO bought_together (product_id, other_id, orders)
    SELECT a.id, b.id, 1 + floor(random() * 20)::int FROM n a CROSS JOIN generate_series(1, 8) g CROSS JOIN c JOIN n b ON b.k = 1 + ((a.k + g * 7919) % c.total)
    WHERE b.id <> a.id ON CONFLICT DO NOTHING`);
  await ds.query(`INSERT INTO customer_purchase (user_id, product_id, quantity, last_bought_at)
    SELECT 'user-' || u, p.id, 1, now() FROM generate_series(1, 20000) u CROSS JOIN generate_series(1, 5) g
    JOIN product p ON p.slug = 'p-' || (1 + ((u * 37 + g * 7919) % ${PRODUCTS}))
    ON CONFLICT DO NOTHING`);
  await ds.query('VACUUM ANALYZE bought_together');
  await ds.query('VACUUM ANALYZE customer_purchase');
  await ds.query('VACUUM ANALYZE product');
  const [{ pairs }] = (await ds.query('SELECT count(*)::int AS pairs FROM bought_together')) as [{ pairs: number }];
  print(`### Discovery targets (issue 21) on ${PRODUCTS.toLocaleString('en-US')} products (${RUNS} runs each, ms)`);
  print();
  print(`Order history generated in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${pairs} bought-together pairs, 20,000 customers × 5 purchases.`);
  print();
  print('| query | target p95 | p50 | p95 | met |');
  print('|---|---:|---:|---:|---|');
  const row = (title: string, target: number, m: { p50: number; p95: number }) =>
    print(`| ${title} | ${target} | ${m.p50.toFixed(1)} | ${m.p95.toFixed(1)} | ${m.p95 <= target ? 'yes' : 'no'} |`);
  const fresh = () => {
    const loaders = createLoaders(repo, discovery);
    return { catalog: new CatalogService(deps, repo, loaders, discovery), discover: new DiscoveryService(repo, discovery, loaders) };
  };
  for (const prefix of ['wi', 'hea', 'wireless hea', 'hedph', 'premium kettel']) {
    row(`searchSuggestions "${prefix}"`, 15, await measure(() => fresh().discover.suggestions(prefix, 8)));
  }
  const facetQueries: Array<[string, ProductFilterInput, ProductSort]> = [
    ['browse, no filter', {}, 'NEWEST'],
    ['search "headphones"', { search: 'headphones' }, 'RELEVANCE'],
    ['category subtree + price + in stock', { categorySlug: 'dept-3', minPrice: '100', maxPrice: '500', inStock: true }, 'PRICE_ASC'],
    ['rating >= 4', { minRating: 4 }, 'RATING_DESC'],
  ];
  for (const [title, filter, sort] of facetQueries) {
    row(
      `products + totalCount + facets: ${title}`,
      60,
      await measure(async () => {
        const c = await fresh().catalog.products({ filter, sort, first: 20 });
        await Promise.all([c.totalCount(), c.facets!()]);
      }),
    );
  }
  const page = (await repo.pageProducts({ filter: validateFilter({}), tsquery: null, sort: 'NEWEST' }, null, 20)).map((r) => r.item);
  const warm = fresh();
  await Promise.all(page.map((p) => warm.catalog.similar(p, 5))); // computes and caches
  row('similar(first: 5) of one product (cached)', 10, await measure(() => fresh().catalog.similar(page[0]!, 5)));
  row(
    'similar(first: 5) of a page of 20 (cached, one statement)',
    10,
    await measure(() => {
      const f = fresh();
      return Promise.all(page.map((p) => f.catalog.similar(p, 5)));
    }),
  );
  row('frequentlyBoughtTogether(first: 5) of one product', 10, await measure(() => fresh().discover.boughtTogether(page[0]!, 5)));
  row(
    'frequentlyBoughtTogether(first: 5) of a page of 20 (one statement)',
    10,
    await measure(() => {
      const f = fresh();
      return Promise.all(page.map((p) => f.discover.boughtTogether(p, 5)));
    }),
  );
  row('recommendedProducts(first: 10), customer with 5 purchases (no target set)', 60, await measure(() => discovery.recommendations('user-17', 10)));
  row('recommendedProducts(first: 10), new customer: popular (no target set)', 60, await measure(() => discovery.recommendations('nobody', 10)));
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
  const aisles = ((await ds.query(`SELECT id FROM category WHERE parent_id IS NOT NULL ORDER BY slug`)) as Array<{ id: string }>).map((r) => r.id);
  await generateProducts(ds, { count: PRODUCTS, categoryIds: aisles, slugPrefix: 'p-', reviewTotals: true });
  await ds.query('VACUUM ANALYZE product');
  await ds.query('VACUUM ANALYZE product_availability');
  await ds.query('VACUUM ANALYZE search_term');
  await ds.query('ANALYZE category');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
