import { DEMO_CATEGORIES, DEMO_PRODUCTS } from './demo-data';
import { slugify } from './domain/slug';
import { productImagePath } from './images';
import { generateProducts } from './persistence/generated-catalogue';
import type { CatalogParts } from './setup';

/**
 * Loads the demo catalogue into an empty catalog (idempotent: does nothing when categories exist).
 * Products go through the same code path as an admin's createProduct, events included, so
 * inventory opens the stock records and orders learns the prices through the bus.
 */
export async function seedCatalog(parts: CatalogParts): Promise<void> {
  const { deps, repo } = parts;
  const { catalog } = parts.forRequest();
  await deps.transaction(async (tx) => {
    // Two replicas starting together: the second waits here, then finds the categories.
    await tx.query('LOCK TABLE category IN EXCLUSIVE MODE');
    const [{ count }] = (await tx.query('SELECT count(*)::int AS count FROM category')) as [{ count: number }];
    if (count > 0) return;
    const ids = new Map<string, string>();
    for (const c of DEMO_CATEGORIES) {
      const row = await repo.in(tx).insertCategory({ name: c.name, slug: slugify(c.name), parentId: c.parent ? ids.get(c.parent)! : null });
      ids.set(c.name, row.id);
    }
    let i = 0;
    for (const p of DEMO_PRODUCTS) {
      const slug = slugify(p.name);
      await catalog.insertProduct(
        tx,
        {
          name: p.name,
          description: p.description,
          price: p.price,
          currencyCode: 'USD',
          categoryId: ids.get(p.category)!,
          imageUrls: [productImagePath(slug)],
          initialStock: p.stock,
          lowStockThreshold: 5,
        },
        // Spread creation times so that "newest" has a meaningful order in the demo.
        { createdHoursAgo: DEMO_PRODUCTS.length - i++ },
      );
    }
    const extra = parts.settings.CATALOG_DEMO_EXTRA_PRODUCTS;
    if (extra > 0) {
      const leaves = DEMO_CATEGORIES.filter((c) => !DEMO_CATEGORIES.some((d) => d.parent === c.name)).map((c) => ids.get(c.name)!);
      await generateProducts(tx, { count: extra, categoryIds: leaves, slugPrefix: 'demo-', reviewTotals: false });
    }
    deps.logger.info({ categories: DEMO_CATEGORIES.length, products: DEMO_PRODUCTS.length, generated: extra }, 'loaded demo catalogue');
  });
}
