import type { Db } from './sql';
import { row, rows } from './sql';

/** A triggered back-in-stock request, claimed by the batcher. */
export interface TriggeredRequest {
  readonly userId: string;
  readonly productId: string;
  /** When the request was made (with the product, it names the fact in the dedupe key). */
  readonly createdAt: Date;
}

/**
 * Back-in-stock requests (`stock_notification`) and the last stock level users saw per product
 * (`stock_seen`), which tells a 0 → > 0 change from any other.
 */
export class StockNotificationsRepository {
  constructor(private readonly db: Db) {}

  /** True when inventory announced the product (it has a stock record). */
  async knowsProduct(productId: string): Promise<boolean> {
    return (await rows(this.db, 'SELECT 1 FROM stock_seen WHERE product_id = $1', [productId])).length > 0;
  }

  /** Opens (or re-opens, after a fulfilled or cancelled one) the user's request for the product. Answers false when one is already waiting. */
  async request(userId: string, productId: string): Promise<boolean> {
    const r = await rows<{ user_id: string }>(
      this.db,
      `INSERT INTO stock_notification (user_id, product_id) VALUES ($1, $2)
       ON CONFLICT (user_id, product_id) DO UPDATE SET status = 'waiting', created_at = now(), triggered_at = NULL, notified_at = NULL
         WHERE stock_notification.status IN ('notified', 'cancelled')
       RETURNING user_id`,
      [userId, productId],
    );
    return r.length > 0;
  }

  /** Cancels a waiting request; answers false when there was none. */
  async cancel(userId: string, productId: string): Promise<boolean> {
    const r = await rows<{ user_id: string }>(this.db, "UPDATE stock_notification SET status = 'cancelled' WHERE user_id = $1 AND product_id = $2 AND status = 'waiting' RETURNING user_id", [userId, productId]);
    return r.length > 0;
  }

  /** The products each user waits for, oldest request first (for the DataLoader). */
  async waitingByUserIds(userIds: readonly string[]): Promise<string[][]> {
    const found = await rows<{ user_id: string; product_id: string }>(
      this.db,
      "SELECT user_id, product_id FROM stock_notification WHERE user_id = ANY ($1::uuid[]) AND status = 'waiting' ORDER BY created_at, product_id",
      [userIds],
    );
    const byUser = new Map<string, string[]>();
    for (const r of found) byUser.set(r.user_id, [...(byUser.get(r.user_id) ?? []), r.product_id]);
    return userIds.map((id) => byUser.get(id) ?? []);
  }

  /**
   * Records a stock level seen on the bus and answers whether available stock just went from 0
   * (or from never seen) to above 0. Older or repeated versions change nothing (false).
   */
  async observe(productId: string, available: number, version: number): Promise<boolean> {
    const r = await row<{ previous: number | null; applied: boolean }>(
      this.db,
      `WITH prev AS (SELECT available FROM stock_seen WHERE product_id = $1 FOR UPDATE),
       up AS (
         INSERT INTO stock_seen (product_id, available, version) VALUES ($1, $2, $3)
         ON CONFLICT (product_id) DO UPDATE SET available = EXCLUDED.available, version = EXCLUDED.version WHERE stock_seen.version < EXCLUDED.version
         RETURNING 1)
       SELECT (SELECT available FROM prev) AS previous, EXISTS (SELECT 1 FROM up) AS applied`,
      [productId, available, version],
    );
    return !!r?.applied && available > 0 && (r.previous ?? 0) <= 0;
  }

  /** Marks every waiting request for the product triggered, in one statement; answers how many. */
  async trigger(productId: string): Promise<number> {
    const r = await rows<{ user_id: string }>(this.db, "UPDATE stock_notification SET status = 'triggered', triggered_at = now() WHERE product_id = $1 AND status = 'waiting' RETURNING user_id", [productId]);
    return r.length;
  }

  /** Keeps a product's name (catalog.product events, in order per product). */
  async saveProductName(productId: string, name: string, slug: string): Promise<void> {
    await rows(this.db, 'INSERT INTO product_name (product_id, name, slug) VALUES ($1, $2, $3) ON CONFLICT (product_id) DO UPDATE SET name = EXCLUDED.name, slug = EXCLUDED.slug', [productId, name, slug]);
  }

  /** Names of the products known, by id. */
  async productNames(productIds: readonly string[]): Promise<Map<string, string>> {
    const found = await rows<{ product_id: string; name: string }>(this.db, 'SELECT product_id, name FROM product_name WHERE product_id = ANY ($1::uuid[])', [[...new Set(productIds)]]);
    return new Map(found.map((r) => [r.product_id, r.name]));
  }

  /** Locks up to `limit` triggered requests (`SKIP LOCKED`: replicas share the work). Call inside a transaction. */
  async claimTriggered(limit: number): Promise<TriggeredRequest[]> {
    const found = await rows<{ user_id: string; product_id: string; created_at: Date }>(
      this.db,
      "SELECT user_id, product_id, created_at FROM stock_notification WHERE status = 'triggered' ORDER BY triggered_at LIMIT $1 FOR UPDATE SKIP LOCKED",
      [limit],
    );
    return found.map((r) => ({ userId: r.user_id, productId: r.product_id, createdAt: r.created_at }));
  }

  /** Fulfils claimed requests (not repeated on a later restock). */
  async markNotified(requests: readonly TriggeredRequest[]): Promise<void> {
    if (requests.length === 0) return;
    await rows(
      this.db,
      "UPDATE stock_notification s SET status = 'notified', notified_at = now() FROM unnest($1::uuid[], $2::uuid[]) AS r (user_id, product_id) WHERE s.user_id = r.user_id AND s.product_id = r.product_id",
      [requests.map((r) => r.userId), requests.map((r) => r.productId)],
    );
  }
}
