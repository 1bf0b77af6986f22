import { In } from 'typeorm';
import type { DataSource } from 'typeorm';
import type { StockRow } from './entities';
import { StockEntity } from './entities';

export class StockRepository {
  constructor(private readonly ds: DataSource) {}

  /** Stock rows by product id, in the order asked (null where no record exists). */
  async findByProductIds(ids: readonly string[]): Promise<Array<StockRow | null>> {
    const valid = ids.filter((id) => /^[0-9a-f-]{36}$/i.test(id));
    const rows = valid.length ? await this.ds.getRepository(StockEntity).findBy({ productId: In(valid) }) : [];
    const byId = new Map(rows.map((r) => [r.productId, r]));
    return ids.map((id) => byId.get(id) ?? null);
  }
}
