import type { PreparedEvent } from '@shop/platform';
import { outboxInsert } from '@shop/platform';
import { In } from 'typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { isProductId } from '../domain/reservation';
import type { ReservationLine } from '../domain/reservation';
import type { AdjustmentRow, ReservationDecisionRow, ReservationRow, ReservationStatus, StockRow } from './entities';
import { AdjustmentEntity, StockEntity } from './entities';

/** The select list of a StockRow, optionally qualified with a table alias. */
function stockColumns(alias?: string): string {
  const t = alias ? `${alias}.` : '';
  return `${t}product_id AS "productId", ${t}on_hand AS "onHand", ${t}reserved, ${t}low_stock_threshold AS "lowStockThreshold",
    ${t}initial_on_hand AS "initialOnHand", ${t}version, ${t}updated_at AS "updatedAt", ${t}closed_at AS "closedAt"`;
}
const STOCK_COLUMNS = stockColumns();

/** A product whose stock does not add up (see `reconciliationReport`). */
export interface StockMismatch {
  readonly productId: string;
  readonly onHand: number;
  readonly reserved: number;
  /** Sum of the product's RESERVED reservations; must equal `reserved`. */
  readonly openReservations: number;
  /** initial + adjustments - shipped; must equal `onHand`. */
  readonly expectedOnHand: number;
}

/** A change of one product's levels by deltas (the caller holds the row's lock). */
export interface LevelChange {
  readonly productId: string;
  readonly onHand: number;
  readonly reserved: number;
}

/**
 * Everything one saga step writes after its decision, in one statement (see
 * `StockRepository.writeSagaStep`). Level changes need the rows' locks held already.
 */
export interface SagaStep {
  readonly orderId: string;
  /** Deltas of levels; each row's version + 1 and `updated_at` = `at`. */
  readonly levels?: readonly LevelChange[];
  readonly at?: Date;
  /** New RESERVED lines of the order. */
  readonly reserve?: readonly ReservationLine[];
  /** Moves the order's RESERVED lines to this status. */
  readonly closeReservations?: Exclude<ReservationStatus, 'RESERVED'>;
  /** The answer recorded for the order (`reservation_decision`). */
  readonly decision?: { readonly outcome: ReservationDecisionRow['outcome']; readonly answer: unknown };
  readonly events: readonly PreparedEvent[];
}

/** What the one-statement reservation of a single product found (see `StockRepository.reserveOne`). */
export interface ReserveOneResult {
  /** The order's earlier answer: then nothing was reserved. */
  readonly previous: Pick<ReservationDecisionRow, 'outcome' | 'answer'> | null;
  /** The row after reserving; null when nothing was reserved (not enough, closed or unknown, or a previous answer). */
  readonly after: StockRow | null;
}

/**
 * The inventory persistence port: single-purpose queries, raw SQL where a lock or an atomic
 * update matters. Methods taking `tx` run inside the caller's transaction.
 */
export class StockRepository {
  constructor(private readonly ds: DataSource) {}

  /** Stock rows by product id, in the order asked (null where no record exists): what a DataLoader wants. */
  async findByProductIds(ids: readonly string[]): Promise<Array<StockRow | null>> {
    const valid = [...new Set(ids.filter(isProductId).map((id) => id.toLowerCase()))];
    const rows = valid.length ? await this.ds.getRepository(StockEntity).findBy({ productId: In(valid) }) : [];
    const byId = new Map(rows.map((r) => [r.productId, r]));
    return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
  }

  /**
   * Locks the stock rows of `productIds` (FOR UPDATE) in product id order, whatever order they are
   * given in, and returns them. Ids that are not UUIDs are skipped (no such product).
   */
  async lockStock(tx: EntityManager, productIds: readonly string[]): Promise<StockRow[]> {
    const ids = [...new Set(productIds.filter(isProductId).map((id) => id.toLowerCase()))];
    if (ids.length === 0) return [];
    // Postgres locks in the order rows leave the sort, so every transaction takes its locks in this one order.
    return (await tx.query(`SELECT ${STOCK_COLUMNS} FROM stock WHERE product_id = ANY($1::uuid[]) ORDER BY product_id FOR UPDATE`, [ids])) as StockRow[];
  }

  /**
   * Locks every stock row a batch of saga events will touch, in product id order, in one
   * statement: the products of `productIds` and those the RESERVED lines of `orderIds` hold. Taken
   * first in a batch's transaction, every later lock of the batch is one it already holds, so two
   * batches (or a batch and a single event) always wait for each other in the same order: no deadlock.
   */
  async lockForBatch(tx: EntityManager, productIds: readonly string[], orderIds: readonly string[]): Promise<void> {
    const ids = [...new Set(productIds.filter(isProductId).map((id) => id.toLowerCase()))];
    if (ids.length === 0 && orderIds.length === 0) return;
    await tx.query(
      `SELECT product_id FROM stock WHERE product_id IN (
         SELECT unnest($1::uuid[]) UNION SELECT product_id FROM reservation WHERE order_id = ANY($2::text[]) AND status = 'RESERVED')
       ORDER BY product_id FOR UPDATE`,
      [ids, orderIds],
    );
  }

  /**
   * Reserves `line` of one order in one statement unless the order was answered before: the
   * conditional update `on_hand - reserved >= quantity` on an open product is the no-oversell
   * check itself (Postgres re-checks it on the newest row version after waiting for its lock).
   */
  async reserveOne(tx: EntityManager, orderId: string, line: ReservationLine): Promise<ReserveOneResult> {
    const rows = (await tx.query(
      `WITH prev AS (SELECT outcome, answer FROM reservation_decision WHERE order_id = $1),
            upd AS (
              UPDATE stock SET reserved = reserved + $3, version = version + 1, updated_at = now()
              WHERE product_id = $2 AND closed_at IS NULL AND on_hand - reserved >= $3 AND NOT EXISTS (SELECT 1 FROM prev)
              RETURNING ${STOCK_COLUMNS})
       SELECT (SELECT outcome FROM prev) AS "previousOutcome", (SELECT answer FROM prev) AS "previousAnswer", upd.*
       FROM (SELECT 1) AS one LEFT JOIN upd ON true`,
      [orderId, line.productId.toLowerCase(), line.quantity],
    )) as Array<{ previousOutcome: ReservationDecisionRow['outcome'] | null; previousAnswer: unknown } & { [K in keyof StockRow]: StockRow[K] | null }>;
    const r = rows[0];
    if (!r) throw new Error('reserveOne answered no row');
    const { previousOutcome, previousAnswer, ...stock } = r;
    return {
      previous: previousOutcome ? { outcome: previousOutcome, answer: previousAnswer } : null,
      after: stock.productId === null ? null : (stock as StockRow),
    };
  }

  /**
   * The RESERVED lines of an order with their stock rows, both locked, in product id order (the
   * one lock order of every writer), in one statement.
   */
  async lockHeld(tx: EntityManager, orderId: string): Promise<Array<{ quantity: number; stock: StockRow }>> {
    const rows = (await tx.query(
      `SELECT r.quantity AS "heldQuantity", ${stockColumns('s')} FROM reservation r JOIN stock s ON s.product_id = r.product_id
       WHERE r.order_id = $1 AND r.status = 'RESERVED' ORDER BY r.product_id FOR UPDATE OF r, s`,
      [orderId],
    )) as Array<StockRow & { heldQuantity: number }>;
    return rows.map(({ heldQuantity, ...stock }) => ({ quantity: heldQuantity, stock }));
  }

  /** Writes one saga step (levels, reservation lines, decision, events) in one statement. */
  async writeSagaStep(tx: EntityManager, step: SagaStep): Promise<void> {
    const params: unknown[] = [step.orderId];
    const parts: string[] = [];
    if (step.levels?.length) {
      params.push(step.levels.map((c) => c.productId), step.levels.map((c) => c.onHand), step.levels.map((c) => c.reserved), step.at ?? new Date());
      const n = params.length;
      parts.push(`levels AS (
        UPDATE stock s SET on_hand = s.on_hand + c.on_hand, reserved = s.reserved + c.reserved, version = s.version + 1, updated_at = $${n}
        FROM unnest($${n - 3}::uuid[], $${n - 2}::int[], $${n - 1}::int[]) AS c (product_id, on_hand, reserved) WHERE s.product_id = c.product_id RETURNING 1)`);
    }
    if (step.reserve?.length) {
      params.push(step.reserve.map((l) => l.productId), step.reserve.map((l) => l.quantity));
      const n = params.length;
      parts.push(`reserve AS (
        INSERT INTO reservation (order_id, product_id, quantity, status)
        SELECT $1, product_id, quantity, 'RESERVED' FROM unnest($${n - 1}::uuid[], $${n}::int[]) AS l (product_id, quantity))`);
    }
    if (step.closeReservations) {
      params.push(step.closeReservations);
      parts.push(`settle AS (UPDATE reservation SET status = $${params.length}, updated_at = now() WHERE order_id = $1 AND status = 'RESERVED')`);
    }
    if (step.decision) {
      params.push(step.decision.outcome, JSON.stringify(step.decision.answer));
      parts.push(`decision AS (INSERT INTO reservation_decision (order_id, outcome, answer) VALUES ($1, $${params.length - 1}, $${params.length}))`);
    }
    if (step.events.length) {
      const outbox = outboxInsert(step.events, params.length + 1);
      params.push(...outbox.params);
      parts.push(`events AS (${outbox.sql})`);
    }
    if (parts.length === 0) return;
    const levels = step.levels?.length ? '(SELECT count(*) FROM levels)' : '0';
    const [row] = (await tx.query(`WITH ${parts.join(',\n')} SELECT ${levels}::int AS levels, $1::text AS order_id`, params)) as Array<{ levels: number }>;
    if ((row?.levels ?? 0) !== (step.levels?.length ?? 0)) throw new Error(`expected ${step.levels?.length} stock rows to change, changed ${row?.levels}`);
  }

  /** Writes outbox events in one statement. */
  async writeEvents(tx: EntityManager, events: readonly PreparedEvent[]): Promise<void> {
    if (events.length === 0) return;
    const outbox = outboxInsert(events, 1);
    await tx.query(outbox.sql, outbox.params);
  }

  /** Opens a stock record; null when it exists already (a redelivered creation). */
  async insertStock(tx: EntityManager, productId: string, onHand: number, lowStockThreshold: number): Promise<StockRow | null> {
    const rows = (await tx.query(
      `INSERT INTO stock (product_id, on_hand, reserved, low_stock_threshold, initial_on_hand, version, updated_at)
       VALUES ($1, $2, 0, $3, $2, 1, now()) ON CONFLICT (product_id) DO NOTHING RETURNING ${STOCK_COLUMNS}`,
      [productId, onHand, lowStockThreshold],
    )) as StockRow[];
    return rows[0] ?? null;
  }

  /**
   * Moves on-hand and reserved stock of several products by the given deltas in one statement and
   * bumps their versions; answers the new rows by product id. The caller must hold the row locks
   * (`lockStock`) already: the order in which this join would take them is unspecified.
   */
  async changeLevels(tx: EntityManager, changes: ReadonlyArray<{ productId: string; onHand?: number; reserved?: number }>): Promise<Map<string, StockRow>> {
    if (changes.length === 0) return new Map();
    const [rows] = (await tx.query(
      `UPDATE stock s SET on_hand = s.on_hand + c.on_hand, reserved = s.reserved + c.reserved, version = s.version + 1, updated_at = now()
       FROM unnest($1::uuid[], $2::int[], $3::int[]) AS c (product_id, on_hand, reserved)
       WHERE s.product_id = c.product_id
       RETURNING ${stockColumns('s')}`,
      [changes.map((c) => c.productId), changes.map((c) => c.onHand ?? 0), changes.map((c) => c.reserved ?? 0)],
    )) as [StockRow[], number];
    if (rows.length !== changes.length) throw new Error(`expected ${changes.length} stock rows to change, changed ${rows.length}`);
    return new Map(rows.map((r) => [r.productId, r]));
  }

  async setThreshold(tx: EntityManager, productId: string, threshold: number): Promise<StockRow> {
    return one(
      await tx.query(`UPDATE stock SET low_stock_threshold = $2, version = version + 1, updated_at = now() WHERE product_id = $1 RETURNING ${STOCK_COLUMNS}`, [
        productId,
        threshold,
      ]),
    );
  }

  /** Closes an open record (product deleted); null when there is none or it is closed already. */
  async close(tx: EntityManager, productId: string): Promise<StockRow | null> {
    if (!isProductId(productId)) return null;
    const [rows] = (await tx.query(
      `UPDATE stock SET closed_at = now(), version = version + 1, updated_at = now() WHERE product_id = $1 AND closed_at IS NULL RETURNING ${STOCK_COLUMNS}`,
      [productId.toLowerCase()],
    )) as [StockRow[], number];
    return rows[0] ?? null;
  }

  /** The order's RESERVED lines, locked, in product id order. */
  async lockOpenReservations(tx: EntityManager, orderId: string): Promise<ReservationRow[]> {
    return (await tx.query(
      `SELECT order_id AS "orderId", product_id AS "productId", quantity, status, created_at AS "createdAt", updated_at AS "updatedAt"
       FROM reservation WHERE order_id = $1 AND status = 'RESERVED' ORDER BY product_id FOR UPDATE`,
      [orderId],
    )) as ReservationRow[];
  }

  async findDecision(tx: EntityManager, orderId: string): Promise<ReservationDecisionRow | null> {
    const rows = (await tx.query(
      'SELECT order_id AS "orderId", outcome, answer, decided_at AS "decidedAt" FROM reservation_decision WHERE order_id = $1',
      [orderId],
    )) as ReservationDecisionRow[];
    return rows[0] ?? null;
  }

  async insertAdjustment(tx: EntityManager, row: Omit<AdjustmentRow, 'id' | 'createdAt'>): Promise<AdjustmentRow> {
    const rows = (await tx.query(
      `INSERT INTO inventory_adjustment (product_id, delta, reason, actor_id, on_hand_after, reserved_after) VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING id, product_id AS "productId", delta, reason, actor_id AS "actorId", on_hand_after AS "onHandAfter", reserved_after AS "reservedAfter", created_at AS "createdAt"`,
      [row.productId, row.delta, row.reason, row.actorId, row.onHandAfter, row.reservedAfter],
    )) as AdjustmentRow[];
    return rows[0]!;
  }

  /** The newest `first` adjustments of a product, newest first. */
  async listAdjustments(productId: string, first: number): Promise<AdjustmentRow[]> {
    if (first === 0) return [];
    return this.ds.getRepository(AdjustmentEntity).find({ where: { productId }, order: { createdAt: 'DESC', id: 'DESC' }, take: first });
  }

  /** Open products at or below their threshold, the emptiest first. */
  async listLowStock(): Promise<StockRow[]> {
    return (await this.ds.query(
      `SELECT ${STOCK_COLUMNS} FROM stock WHERE closed_at IS NULL AND on_hand - reserved <= low_stock_threshold ORDER BY on_hand - reserved, product_id`,
    )) as StockRow[];
  }

  async countLowStock(): Promise<number> {
    const [row] = (await this.ds.query('SELECT count(*)::int AS n FROM stock WHERE closed_at IS NULL AND on_hand - reserved <= low_stock_threshold')) as [{ n: number }];
    return row.n;
  }

  /**
   * Every product whose stock does not add up: reserved differs from the sum of its open
   * reservations, a level is negative or oversold, or the ledger is off (initial + adjustments
   * != on_hand + shipped). One statement, so it reads one consistent snapshot while orders flow.
   */
  async reconciliationReport(): Promise<StockMismatch[]> {
    return (await this.ds.query(`
      SELECT s.product_id AS "productId", s.on_hand AS "onHand", s.reserved,
             coalesce(r.open, 0)::int AS "openReservations",
             (s.initial_on_hand + coalesce(a.adjusted, 0) - coalesce(r.shipped, 0))::int AS "expectedOnHand"
      FROM stock s
      LEFT JOIN (SELECT product_id, sum(quantity) FILTER (WHERE status = 'RESERVED') AS open, sum(quantity) FILTER (WHERE status = 'SHIPPED') AS shipped
                 FROM reservation GROUP BY product_id) r USING (product_id)
      LEFT JOIN (SELECT product_id, sum(delta) AS adjusted FROM inventory_adjustment GROUP BY product_id) a USING (product_id)
      WHERE s.reserved <> coalesce(r.open, 0)
         OR s.on_hand < 0 OR s.reserved < 0 OR s.reserved > s.on_hand
         OR s.on_hand <> s.initial_on_hand + coalesce(a.adjusted, 0) - coalesce(r.shipped, 0)
      ORDER BY s.product_id`)) as StockMismatch[];
  }
}

/** The single row of an UPDATE … RETURNING (TypeORM answers `[rows, count]` for updates). */
function one<T>(result: unknown): T {
  const [rows] = result as [T[], number];
  const row = rows[0];
  if (!row) throw new Error('expected one updated row');
  return row;
}
