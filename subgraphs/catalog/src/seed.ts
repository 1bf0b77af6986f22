import { ProductCreated } from '@shop/events';
import type { ServiceDeps } from '@shop/platform';
import { DEMO_CATEGORIES, DEMO_PRODUCTS, slugify } from './demo-data';

/**
 * Loads the demo catalogue into an empty catalog (idempotent: does nothing when categories exist).
 * Products are created with their `catalog.product-created.v1` events, so inventory opens the
 * stock records and orders learns the prices through the bus, as with any admin-created product.
 */
export async function seedCatalog(deps: ServiceDeps): Promise<void> {
  await deps.transaction(async (tx) => {
    await tx.query('LOCK TABLE category IN EXCLUSIVE MODE');
    const [{ count }] = (await tx.query('SELECT count(*)::int AS count FROM category')) as [{ count: number }];
    if (count > 0) return;
    const ids = new Map<string, string>();
    for (const c of DEMO_CATEGORIES) {
      const [row] = (await tx.query('INSERT INTO category (name, slug, parent_id) VALUES ($1, $2, $3) RETURNING id', [
        c.name,
        slugify(c.name),
        c.parent ? ids.get(c.parent) : null,
      ])) as [{ id: string }];
      ids.set(c.name, row.id);
    }
    let i = 0;
    for (const p of DEMO_PRODUCTS) {
      const categoryId = ids.get(p.category)!;
      const slug = slugify(p.name);
      // Spread creation times so that "newest" has a meaningful order in the demo.
      const [row] = (await tx.query(
        `INSERT INTO product (name, slug, description, price, currency_code, category_id, image_urls, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'USD', $5, $6, now() - make_interval(hours => $7), now() - make_interval(hours => $7)) RETURNING id`,
        [p.name, slug, p.description, p.price, categoryId, [`https://images.example.com/${slug}.jpg`], DEMO_PRODUCTS.length - i++],
      )) as [{ id: string }];
      await deps.outbox.add(tx, ProductCreated, row.id, {
        productId: row.id,
        name: p.name,
        slug,
        price: { amount: p.price, currencyCode: 'USD' },
        categoryId,
        initialStock: p.stock,
        lowStockThreshold: 5,
      });
    }
    deps.logger.info({ categories: DEMO_CATEGORIES.length, products: DEMO_PRODUCTS.length }, 'loaded demo catalogue');
  });
}
