import { In } from 'typeorm';
import type { DataSource } from 'typeorm';
import type { CategoryRow, ProductRow } from './entities';
import { CategoryEntity, ProductEntity } from './entities';

/** Single-purpose queries of the catalog; `findByIds` is what a DataLoader wants. */
export class CatalogRepository {
  constructor(private readonly ds: DataSource) {}

  /** Products by id, in the order asked (null where unknown). Deleted products are included: orders still show them. */
  async findProductsByIds(ids: readonly string[]): Promise<Array<ProductRow | null>> {
    const valid = ids.filter(isUuid);
    const rows = valid.length ? await this.ds.getRepository(ProductEntity).findBy({ id: In(valid) }) : [];
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  async findCategoriesByIds(ids: readonly string[]): Promise<Array<CategoryRow | null>> {
    const valid = ids.filter(isUuid);
    const rows = valid.length ? await this.ds.getRepository(CategoryEntity).findBy({ id: In(valid) }) : [];
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  async allCategories(): Promise<CategoryRow[]> {
    return this.ds.getRepository(CategoryEntity).find({ order: { name: 'ASC' } });
  }

  /** A page of live products in a stable order (newest first, id as tie-breaker). */
  async pageProducts(first: number, after: { createdAt: string; id: string } | null): Promise<{ rows: ProductRow[]; total: number }> {
    const qb = this.ds.getRepository(ProductEntity).createQueryBuilder('p').where('p.deleted_at IS NULL');
    const total = await qb.getCount();
    if (after) qb.andWhere('(p.created_at, p.id) < (:createdAt, :id)', after);
    const rows = await qb.orderBy('p.created_at', 'DESC').addOrderBy('p.id', 'DESC').limit(first).getMany();
    return { rows, total };
  }
}

export function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}
