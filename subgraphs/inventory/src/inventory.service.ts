import type { DataOf } from '@shop/events';
import { LowStock, StockChanged, StockRejected, StockReserved } from '@shop/events';
import type { ReturnReceived } from '@shop/events';
import { badUserInput, insufficientStock, notFound } from '@shop/platform';
import type { PreparedEvent, ServiceDeps } from '@shop/platform';
import type { EntityManager } from 'typeorm';
import { MAX_STOCK, planAdjustment } from './domain/adjustment';
import { isProductId, normalizeLines, planReservation } from './domain/reservation';
import type { ReservationLine } from './domain/reservation';
import type { StockChangeReason, StockLevel, StockState } from './domain/stock-level';
import { availableOf, crossedIntoLowStock, toPayload, toStockLevel } from './domain/stock-level';
import type { InventoryMetrics } from './metrics';
import { inventoryMetrics } from './metrics';
import type { AdjustmentRow, ReservationDecisionRow } from './persistence/entities';
import type { LevelChange, StockMismatch } from './persistence/stock.repository';
import { StockRepository } from './persistence/stock.repository';

type ReservedAnswer = DataOf<typeof StockReserved>;
type RejectedAnswer = DataOf<typeof StockRejected>;

/**
 * What inventory can do: open and close stock records, reserve, release and ship the stock of
 * orders (all driven by events, inside the consumer's transaction), and the admin operations
 * (each in its own transaction). Every change of a product's levels bumps its version and writes
 * `inventory.stock-changed.v1` to the outbox while the row is locked, so the events of one product
 * leave in the order of its changes.
 */
export class InventoryService {
  readonly repo: StockRepository;
  private readonly metrics: InventoryMetrics = inventoryMetrics();

  constructor(private readonly deps: ServiceDeps) {
    this.repo = new StockRepository(deps.dataSource);
  }

  // ------------------------------------------------------------------ catalog events

  /** Opens the stock record of a new product (a redelivered creation changes nothing). */
  async openStock(tx: EntityManager, product: { productId: string; initialStock: number; lowStockThreshold: number }): Promise<void> {
    const row = await this.repo.insertStock(tx, product.productId, product.initialStock, product.lowStockThreshold);
    if (row) await this.publishChange(tx, null, row, 'opened');
  }

  /** Closes the record of a deleted product: nothing more can be reserved; open reservations still ship or release. */
  async closeStock(tx: EntityManager, productId: string): Promise<void> {
    const row = await this.repo.close(tx, productId);
    if (row) await this.publishChange(tx, null, row, 'closed');
  }

  // ------------------------------------------------------------------ the orders saga

  /**
   * Reserves every line of an order or none, and answers `inventory.stock-reserved.v1` or
   * `inventory.stock-rejected.v1` (with each line that fell short). One product: one conditional
   * statement reserves it (and finds an earlier answer), one writes the rest. Several products, or
   * one that fell short: the stock rows are locked in product id order before anything is
   * decided, so concurrent orders never oversell and never deadlock. An order placed a second
   * time (another event id) gets its first answer again.
   */
  async reserve(tx: EntityManager, orderId: string, items: readonly ReservationLine[]): Promise<void> {
    const end = this.metrics.reservationSeconds.startTimer();
    const lines = normalizeLines(items);
    const single = lines.length === 1 && isProductId(lines[0]!.productId) ? lines[0]! : null;
    let previous: Pick<ReservationDecisionRow, 'outcome' | 'answer'> | null;
    if (single) {
      const attempt = await this.repo.reserveOne(tx, orderId, single);
      previous = attempt.previous;
      if (attempt.after) {
        const after = attempt.after;
        const before = { ...after, reserved: after.reserved - single.quantity, version: after.version - 1 };
        await this.recordReserved(tx, orderId, lines, [{ before, after }], []);
        this.countReservation('reserved', end);
        return;
      }
      // Nothing reserved: not enough, closed, unknown, or answered before. The general path decides (and words the shortage).
    } else {
      previous = await this.repo.findDecision(tx, orderId);
    }
    if (previous) {
      if (previous.outcome === 'REJECTED') await this.deps.outbox.add(tx, StockRejected, orderId, previous.answer as RejectedAnswer);
      // A reservation already released or shipped is not re-announced: it no longer holds anything.
      else if ((await this.repo.lockOpenReservations(tx, orderId)).length) await this.deps.outbox.add(tx, StockReserved, orderId, previous.answer as ReservedAnswer);
      this.deps.logger.warn({ orderId, outcome: previous.outcome }, 'order placed again: answered with its first decision, nothing reserved twice');
      this.countReservation('replayed', end);
      return;
    }
    const locked = await this.repo.lockStock(tx, lines.map((l) => l.productId));
    const open = new Map(locked.filter((r) => r.closedAt === null).map((r) => [r.productId, r]));
    const plan = planReservation(lines, new Map([...open].map(([id, r]) => [id, availableOf(r)])));
    if (plan.kind === 'reject') {
      const answer: RejectedAnswer = { orderId, shortages: [...plan.shortages] };
      await this.repo.writeSagaStep(tx, { orderId, decision: { outcome: 'REJECTED', answer }, events: [this.deps.outbox.prepare(StockRejected, orderId, answer)] });
      this.countReservation('rejected', end);
      return;
    }
    const at = new Date();
    const changes = plan.lines.map((l) => {
      const before = open.get(l.productId)!;
      return { before, after: { ...before, reserved: before.reserved + l.quantity, version: before.version + 1, updatedAt: at } };
    });
    await this.recordReserved(tx, orderId, plan.lines, changes, plan.lines.map((l) => ({ productId: l.productId, onHand: 0, reserved: l.quantity })), at);
    this.countReservation('reserved', end);
  }

  /** Writes a reservation that was decided (levels still to change in `levels`, or changed already): its lines, its answer and its events. */
  private async recordReserved(
    tx: EntityManager,
    orderId: string,
    lines: readonly ReservationLine[],
    changes: ReadonlyArray<{ before: StockState; after: StockState }>,
    levels: readonly LevelChange[],
    at?: Date,
  ): Promise<void> {
    const answer: ReservedAnswer = { orderId, lines: [...lines] };
    const events = [...changes.flatMap(({ before, after }) => this.changeEvents(before, after, 'reserved')), this.deps.outbox.prepare(StockReserved, orderId, answer)];
    await this.repo.writeSagaStep(tx, { orderId, levels, ...(at ? { at } : {}), reserve: lines, decision: { outcome: 'RESERVED', answer }, events });
  }

  /** Gives back what an order holds (cancelled or rejected); an order that holds nothing changes nothing. */
  async release(tx: EntityManager, orderId: string): Promise<void> {
    await this.settle(tx, orderId, 'released');
  }

  /** Turns what a shipped order holds into a deduction of on-hand stock (available is unchanged). */
  async ship(tx: EntityManager, orderId: string, items: readonly ReservationLine[]): Promise<void> {
    const shipped = await this.settle(tx, orderId, 'shipped');
    // The reservation is the truth; a different item list in the event is worth a look, not a failure.
    const asked = normalizeLines(items);
    if (shipped.length && JSON.stringify(asked) !== JSON.stringify(shipped.map((r) => ({ productId: r.productId, quantity: r.quantity })))) {
      this.deps.logger.warn({ orderId, asked, reserved: shipped }, 'shipped items differ from the reservation; shipped what was reserved');
    }
  }

  /**
   * Locks the saga's stock rows of a batch of events up front, in one global order (see
   * `StockRepository.lockForBatch`), so that the saga's handlers can share a batch's transaction.
   */
  async lockForBatch(tx: EntityManager, events: ReadonlyArray<{ orderId: string; items?: readonly ReservationLine[] }>): Promise<void> {
    const productIds = events.flatMap((e) => (e.items ?? []).map((i) => i.productId));
    const settling = events.filter((e) => !e.items || e.items.length === 0).map((e) => e.orderId);
    await this.repo.lockForBatch(tx, productIds, settling);
  }

  private async settle(tx: EntityManager, orderId: string, transition: 'released' | 'shipped'): Promise<ReservationLine[]> {
    const held = await this.repo.lockHeld(tx, orderId);
    if (held.length === 0) {
      // Normal for a release after a rejection; a shipment without a reservation is not.
      if (transition === 'shipped') this.deps.logger.warn({ orderId }, 'order shipped without a reservation: on-hand stock left unchanged');
      this.metrics.transitions.inc({ transition, outcome: 'nothing_held' });
      return [];
    }
    const at = new Date();
    const levels = held.map(({ quantity, stock }) => ({ productId: stock.productId, reserved: -quantity, onHand: transition === 'shipped' ? -quantity : 0 }));
    const events = held.flatMap(({ quantity, stock: before }, i) =>
      this.changeEvents(before, { ...before, onHand: before.onHand + levels[i]!.onHand, reserved: before.reserved - quantity, version: before.version + 1, updatedAt: at }, transition),
    );
    await this.repo.writeSagaStep(tx, { orderId, levels, at, closeReservations: transition === 'shipped' ? 'SHIPPED' : 'RELEASED', events });
    this.metrics.transitions.inc({ transition, outcome: 'done' });
    return held.map(({ quantity, stock }) => ({ productId: stock.productId, quantity }));
  }

  // ------------------------------------------------------------------ admin

  /**
   * Adds `delta` (negative to remove) to a product's on-hand stock, with an audit row naming the
   * admin and the resulting levels. INSUFFICIENT_STOCK when on-hand would fall below what orders
   * hold (or below zero); NOT_FOUND for a product inventory has no record of.
   */
  async adjust(actorId: string, productId: string, delta: number, reason: string): Promise<StockLevel> {
    return this.deps.transaction(async (tx) => {
      const [row] = await this.repo.lockStock(tx, [productId]);
      if (!row) throw notFound('Product', productId);
      const plan = planAdjustment(row, delta);
      if (!plan.ok) {
        if (plan.problem === 'too-large') throw badUserInput('delta', `On-hand stock would exceed ${MAX_STOCK}.`);
        const available = availableOf(row);
        throw insufficientStock(
          plan.problem === 'negative'
            ? `Cannot remove ${-delta}: only ${row.onHand} on hand.`
            : `Cannot remove ${-delta}: ${row.reserved} of the ${row.onHand} on hand are reserved by orders, so at most ${available} can be removed.`,
          { productId: row.productId, onHand: row.onHand, reserved: row.reserved, available },
        );
      }
      const after = (await this.repo.changeLevels(tx, [{ productId: row.productId, onHand: delta }])).get(row.productId)!;
      await this.repo.insertAdjustment(tx, { productId: row.productId, delta, reason, actorId, onHandAfter: after.onHand, reservedAfter: after.reserved });
      await this.publishChange(tx, row, after, 'adjusted');
      this.metrics.adjustments.inc({ direction: delta > 0 ? 'in' : 'out' });
      return toStockLevel(after);
    });
  }

  /**
   * Issue 19: the goods of a received return go back on hand, each line an adjustment (reason
   * "return <id> of order <number>", actor the admin who received it) with its stock-changed
   * event. Idempotent through the consumer's inbox. A closed or unknown product, or one that would
   * pass MAX_STOCK, is logged and left alone (a consumer must not fail forever).
   */
  async restockReturn(tx: EntityManager, data: DataOf<typeof ReturnReceived>): Promise<void> {
    const rows = new Map((await this.repo.lockStock(tx, data.items.map((i) => i.productId))).map((r) => [r.productId, r]));
    const reason = `return ${data.returnId} of order ${data.number}`;
    for (const item of data.items) {
      const row = rows.get(item.productId.toLowerCase());
      if (!row || row.closedAt || !planAdjustment(row, item.quantity).ok) {
        this.deps.logger.warn({ returnId: data.returnId, productId: item.productId, quantity: item.quantity }, 'returned goods not restocked: product closed, unknown or at its maximum');
        continue;
      }
      const after = (await this.repo.changeLevels(tx, [{ productId: row.productId, onHand: item.quantity }])).get(row.productId)!;
      await this.repo.insertAdjustment(tx, { productId: row.productId, delta: item.quantity, reason, actorId: data.actorId, onHandAfter: after.onHand, reservedAfter: after.reserved });
      await this.publishChange(tx, row, after, 'adjusted');
      this.metrics.adjustments.inc({ direction: 'in' });
    }
  }

  /** Sets the level at or below which a product counts as low on stock; raising it over the available stock is a crossing too. */
  async setLowStockThreshold(productId: string, threshold: number): Promise<StockLevel> {
    return this.deps.transaction(async (tx) => {
      const [row] = await this.repo.lockStock(tx, [productId]);
      if (!row) throw notFound('Product', productId);
      if (row.lowStockThreshold === threshold) return toStockLevel(row); // nothing changes: no version, no event
      const after = await this.repo.setThreshold(tx, row.productId, threshold);
      await this.publishChange(tx, row, after, 'threshold');
      return toStockLevel(after);
    });
  }

  /** Open products at or below their threshold, the emptiest first. */
  async lowStock(): Promise<StockLevel[]> {
    return (await this.repo.listLowStock()).map(toStockLevel);
  }

  /** The newest `first` adjustments of a product; NOT_FOUND for a product inventory has no record of. */
  async adjustments(productId: string, first: number): Promise<AdjustmentRow[]> {
    const [row] = await this.repo.findByProductIds([productId]);
    if (!row) throw notFound('Product', productId);
    return this.repo.listAdjustments(row.productId, first);
  }

  /** Products whose stock does not add up right now (should be none). */
  reconcile(): Promise<StockMismatch[]> {
    return this.repo.reconciliationReport();
  }

  // ------------------------------------------------------------------ events

  /** Writes `stock-changed` for a change (the row is locked), and `low-stock` when it crossed the threshold. */
  private async publishChange(tx: EntityManager, before: StockState | null, after: StockState, reason: StockChangeReason): Promise<void> {
    await this.repo.writeEvents(tx, this.changeEvents(before, after, reason));
  }

  /** The events of a change: `stock-changed`, and `low-stock` when it crossed the threshold. */
  private changeEvents(before: StockState | null, after: StockState, reason: StockChangeReason): PreparedEvent[] {
    const level = toPayload(toStockLevel(after));
    const events: PreparedEvent[] = [this.deps.outbox.prepare(StockChanged, after.productId, { ...level, reason })];
    if (before && crossedIntoLowStock(before, after)) {
      events.push(this.deps.outbox.prepare(LowStock, after.productId, level));
      this.metrics.lowStockAlerts.inc();
    }
    return events;
  }

  private countReservation(outcome: 'reserved' | 'rejected' | 'replayed', end: (labels: { outcome: string }) => number): void {
    end({ outcome });
    this.metrics.reservations.inc({ outcome });
  }
}
