/**
 * What an order can do: checkout, the saga's reactions to inventory, the timeout, cancellation,
 * shipping and delivery, and who may see what. Every state change is one transaction with its
 * status history row and its outbox event (see saga/order-transitions.ts).
 */
import { randomUUID } from 'node:crypto';
import type { StockRejected, StockReserved } from '@shop/events';
import { OrderPlaced } from '@shop/events';
import type { DataOf } from '@shop/events';
import type { EventEnvelope, Identity, Logger, PreparedEvent, ServiceDeps } from '@shop/platform';
import { afterCommit, badUserInput, conflict, forbidden, isAdmin, notFound, requireAdmin } from '@shop/platform';
import type { EntityManager } from 'typeorm';
import type { OrdersSettings } from './config';
import type { PlaceOrderInput, ShippingAddress } from './domain/checkout';
import { parseCheckout } from './domain/checkout';
import { lineTotal, sum } from './domain/money';
import { orderNumber } from './domain/order-number';
import { InvalidTransitionError, OrderStatus, RejectionReason } from './domain/order-status';
import { PaymentStatus } from './domain/payment-status';
import type { OrdersMetrics } from './metrics';
import type { PaymentWorker } from './payments/payment-worker';
import type { OrderItemRow, OrderRow, PaymentRow } from './persistence/entities';
import type { OrdersRepository } from './persistence/orders.repository';
import type { OrderTransitions } from './saga/order-transitions';

/** What a placement needs (see `OrdersService.newPlacement`). */
export interface Placement {
  readonly orderId: string;
  readonly numberValue: string;
  /** The user's id, or `guest:<cart id>` for a guest checkout (the idempotency scope). */
  readonly ownerId: string;
  readonly idempotencyKey: string;
  readonly inputHash: string;
  readonly currencyCode: string;
  readonly items: readonly OrderItemRow[];
  readonly address: ShippingAddress;
  readonly paymentToken: string;
  readonly amounts: Pick<OrderRow, 'subtotal' | 'discount' | 'shipping' | 'tax' | 'total'>;
  readonly couponCodes?: string[];
  readonly shippingMethod?: { readonly id: string; readonly name: string } | null;
  readonly guest?: { readonly guest: true; readonly emailEncrypted: string; readonly tokenHash: string } | null;
}

/** Longest accepted cancellation reason. */
const MAX_REASON = 500;
/** Overdue sagas handled per sweeper transaction. */
const SWEEP_BATCH = 50;

export class OrdersService {
  private readonly logger: Logger;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly repo: OrdersRepository,
    private readonly transitions: OrderTransitions,
    private readonly payments: PaymentWorker,
    private readonly paymentProviderName: string,
    private readonly settings: OrdersSettings,
    private readonly metrics: OrdersMetrics,
  ) {
    this.logger = deps.logger.child({ component: 'orders' });
  }

  // ------------------------------------------------------------------ checkout

  /**
   * Places an order: PENDING with its `orders.order-placed.v1` event in one transaction; the saga
   * goes on asynchronously. Prices and names come from the local product read model. The same
   * idempotency key and input from the same user answer the same order (also under concurrency:
   * the unique constraint on (user, key) decides); the same key with another input is a CONFLICT.
   */
  async placeOrder(identity: Identity, input: PlaceOrderInput): Promise<OrderRow> {
    const request = parseCheckout(input);
    const replay = (existing: OrderRow): OrderRow => {
      if (existing.inputHash !== request.inputHash) {
        throw conflict('This idempotency key was already used for a different order.', { field: 'input.idempotencyKey' });
      }
      this.metrics.idempotentReplays.inc();
      return existing;
    };
    // One statement reads what checkout needs (a replay, a number, the products), one writes the
    // order with everything that belongs to it: two round trips, no transaction around them.
    const lookup = await this.repo.checkoutLookup(identity.userId, request.idempotencyKey, request.lines.map((l) => l.productId));
    const knownOrder = async (): Promise<OrderRow> => {
      const existing = await this.repo.findByIdempotencyKey(this.deps.dataSource.manager, identity.userId, request.idempotencyKey);
      if (!existing) throw new Error('idempotency conflict without a row');
      return existing;
    };
    if (lookup.knownOrderId || lookup.numberValue === null) return replay(await knownOrder());

    const items: OrderItemRow[] = [];
    const orderId = randomUUID();
    let currencyCode: string | undefined;
    request.lines.forEach((line, i) => {
      const product = lookup.snapshots.get(line.productId);
      if (!product || product.deleted) throw badUserInput(`input.items[${i}].productId`, `Product ${line.productId} does not exist or is no longer sold.`);
      currencyCode ??= product.currencyCode;
      if (product.currencyCode !== currencyCode) throw badUserInput(`input.items[${i}].productId`, 'All items of one order must be priced in the same currency.');
      items.push({
        orderId,
        lineNo: i + 1,
        productId: line.productId,
        productName: product.name,
        quantity: line.quantity,
        unitPrice: product.price,
        lineTotal: lineTotal(product.price, line.quantity),
      });
    });
    const subtotal = sum(items.map((i) => i.lineTotal));
    const { order, payment, placed } = this.newPlacement({
      orderId, numberValue: lookup.numberValue, ownerId: identity.userId, idempotencyKey: request.idempotencyKey, inputHash: request.inputHash,
      currencyCode: currencyCode!, items, address: request.shippingAddress, paymentToken: request.paymentToken,
      // placeOrder has no shipping fees, taxes or coupons: the total is the subtotal.
      amounts: { subtotal, discount: '0.00', shipping: '0.00', tax: '0.00', total: subtotal },
    });
    // A concurrent twin waits on the unique index until the first one commits, then finds it.
    const result = (await this.repo.insertPlacedOrder(order, items, payment, [placed])) ? { order, created: true } : { order: await knownOrder(), created: false };
    if (!result.created) return replay(result.order);
    this.placedCommitted();
    return result.order;
  }

  /**
   * The one placement both `placeOrder` and `checkout` write: the PENDING order with its frozen
   * amounts, its payment row (CREATED, holding the token) and `orders.order-placed.v1`.
   */
  newPlacement(p: Placement): { order: OrderRow; payment: PaymentRow; placed: PreparedEvent } {
    const now = new Date();
    const a = p.address;
    const order: OrderRow = {
      id: p.orderId,
      number: orderNumber(p.numberValue),
      userId: p.ownerId,
      status: OrderStatus.Pending,
      rejectionReason: null,
      cancelReason: null,
      idempotencyKey: p.idempotencyKey,
      inputHash: p.inputHash,
      currencyCode: p.currencyCode,
      ...p.amounts,
      couponCodes: p.couponCodes ?? [],
      shippingMethodId: p.shippingMethod?.id ?? null,
      shippingMethodName: p.shippingMethod?.name ?? null,
      guest: p.guest?.guest ?? false,
      emailEncrypted: p.guest?.emailEncrypted ?? null,
      guestTokenHash: p.guest?.tokenHash ?? null,
      shipLine1: a.line1,
      shipLine2: a.line2,
      shipCity: a.city,
      shipPostalCode: a.postalCode,
      shipCountry: a.country,
      carrier: null,
      trackingNumber: null,
      shippedAt: null,
      deliveredAt: null,
      stockReservedAt: null,
      cancellableUntil: new Date(now.getTime() + this.settings.CANCELLATION_WINDOW_MINUTES * 60_000),
      sagaDeadline: new Date(now.getTime() + this.settings.SAGA_TIMEOUT_MS),
      createdAt: now,
      updatedAt: now,
    };
    const m = (amount: string) => ({ amount, currencyCode: order.currencyCode });
    const placed = this.deps.outbox.prepare(OrderPlaced, order.id, {
      orderId: order.id,
      number: order.number,
      userId: order.userId,
      items: p.items.map((i) => ({ productId: i.productId, productName: i.productName, quantity: i.quantity, unitPrice: m(i.unitPrice) })),
      total: m(order.total),
      placedAt: now.toISOString(),
      breakdown: { subtotal: m(order.subtotal), discount: m(order.discount), shipping: m(order.shipping), tax: m(order.tax), total: m(order.total) },
      guest: order.guest,
    });
    return { order, payment: newPayment(order.id, this.paymentProviderName, order.total, order.currencyCode, p.paymentToken, now), placed };
  }

  /** After a placement committed: the relay is woken and the metrics counted. */
  placedCommitted(): void {
    this.deps.wakeOutboxRelay();
    this.metrics.placed.inc();
  }

  // ------------------------------------------------------------------ the saga

  /** inventory.stock-reserved.v1: the payment becomes due and the worker is woken after commit. One statement. */
  async onStockReserved(tx: EntityManager, event: EventEnvelope<DataOf<typeof StockReserved>>): Promise<void> {
    // Too late (cancelled, timed out) changes nothing: inventory releases on our cancelled/rejected
    // event, which it handles after the order-placed event it is answering.
    const { known, paymentDue } = await this.repo.recordStockReserved(tx, event.data.orderId, new Date());
    if (!known) return void this.logger.warn({ orderId: event.data.orderId }, 'stock reserved for an unknown order; ignored');
    if (paymentDue) afterCommit(tx, () => this.payments.wake());
  }

  /** inventory.stock-rejected.v1: REJECTED (OUT_OF_STOCK); nothing was reserved, nothing charged. */
  async onStockRejected(tx: EntityManager, event: EventEnvelope<DataOf<typeof StockRejected>>): Promise<void> {
    const locked = await this.repo.lockOrderAndPayment(tx, event.data.orderId);
    if (!locked) return void this.logger.warn({ orderId: event.data.orderId }, 'stock rejected for an unknown order; ignored');
    const { order, payment } = locked;
    if (order.status !== OrderStatus.Pending || order.stockReservedAt) return;
    const now = new Date();
    await this.transitions.apply(tx, order, { to: 'REJECTED', reason: RejectionReason.OutOfStock, stockWasReserved: false }, now, voidPayment(payment, now)?.patch);
  }

  /**
   * Rejects and compensates sagas that passed their deadline: without an answer from inventory
   * (INVENTORY_TIMEOUT) or without a payment outcome (PAYMENT_TIMEOUT). Stock may have been reserved
   * in both cases, so the event tells inventory to release whatever the order holds. Returns how
   * many orders it rejected.
   */
  async expireOverdueSagas(now: Date = new Date()): Promise<number> {
    let total = 0;
    for (;;) {
      let wake = false;
      const n = await this.deps.transaction(async (tx) => {
        const overdue = await this.repo.lockOverdueSagas(tx, now, SWEEP_BATCH);
        for (const order of overdue) {
          const payment = await this.repo.lockPayment(tx, order.id);
          const voided = payment ? voidPayment(payment, now) : null;
          wake = (voided?.workerNeeded ?? false) || wake;
          const reason = order.stockReservedAt ? RejectionReason.PaymentTimeout : RejectionReason.InventoryTimeout;
          await this.transitions.apply(tx, order, { to: 'REJECTED', reason, stockWasReserved: true }, now, voided?.patch);
          this.logger.warn({ orderId: order.id, number: order.number, reason }, 'saga timed out; order rejected and compensated');
        }
        return overdue.length;
      });
      if (wake) this.payments.wake();
      total += n;
      if (n < SWEEP_BATCH) return total;
    }
  }

  // ------------------------------------------------------------------ customer and admin actions

  /**
   * Cancels an order: its owner before `cancellableUntil` and before shipping, an admin before
   * shipping; otherwise CONFLICT. A captured payment is refunded (tried at once, retried by the
   * worker if the provider is down); inventory releases the stock on the cancelled event.
   */
  async cancelOrder(identity: Identity, id: string, reason: string | null | undefined): Promise<OrderRow> {
    const text = reason?.trim() || null;
    if (text && text.length > MAX_REASON) throw badUserInput('reason', `The reason must be at most ${MAX_REASON} characters.`);
    const admin = isAdmin(identity);
    const { order, paymentWork } = await this.deps.transaction(async (tx) => {
      const locked = await this.repo.lockOrderAndPayment(tx, id);
      if (!locked) throw notFound('Order', id);
      const { order: current, payment } = locked;
      if (!admin && current.userId !== identity.userId) throw forbidden('This order belongs to someone else.');
      if (current.status === OrderStatus.Shipped || current.status === OrderStatus.Delivered) throw conflict(`Order ${current.number} has already shipped and can no longer be cancelled.`);
      if (current.status === OrderStatus.Cancelled || current.status === OrderStatus.Rejected) throw conflict(`Order ${current.number} is already ${current.status}.`);
      const now = new Date();
      if (!admin && now > current.cancellableUntil) {
        throw conflict(`Order ${current.number} could be cancelled until ${current.cancellableUntil.toISOString()}; please contact support.`, { cancellableUntil: current.cancellableUntil.toISOString() });
      }
      const refund = payment.status === PaymentStatus.Captured;
      const voided = refund ? null : voidPayment(payment, now);
      const paymentPatch: Partial<PaymentRow> | undefined = refund ? { status: PaymentStatus.RefundPending, nextAttemptAt: now, attempts: 0, updatedAt: now } : voided?.patch;
      const updated = await this.transitions.apply(tx, current, { to: 'CANCELLED', reason: text, refunded: refund, actor: admin ? 'admin' : 'customer' }, now, paymentPatch);
      return { order: updated, paymentWork: refund || (voided?.workerNeeded ?? false) };
    });
    // Best effort: answer with REFUNDED when the provider is quick; the worker retries otherwise.
    if (paymentWork) await this.payments.processNow(order.id).catch((err: unknown) => this.logger.warn({ err, orderId: order.id }, 'immediate refund failed; the worker retries'));
    return (await this.repo.findByIds([order.id]))[0] ?? order;
  }

  /** ADMIN: hands a CONFIRMED order to a carrier; inventory deducts the reserved stock. */
  async shipOrder(identity: Identity, id: string, carrier: string, trackingNumber: string): Promise<OrderRow> {
    requireAdmin({ identity });
    const c = carrier.trim();
    const t = trackingNumber.trim();
    if (!c || c.length > 100) throw badUserInput('carrier', 'Carrier must be 1 to 100 characters.');
    if (!t || t.length > 100 || !/^[A-Za-z0-9][A-Za-z0-9 ._/-]*$/.test(t)) throw badUserInput('trackingNumber', 'Tracking number must be 1 to 100 letters, digits, spaces or . _ / -.');
    return this.changeAsAdmin(id, OrderStatus.Confirmed, (tx, order) => this.transitions.apply(tx, order, { to: 'SHIPPED', carrier: c, trackingNumber: t }));
  }

  /** ADMIN: a SHIPPED order arrived. */
  async markDelivered(identity: Identity, id: string): Promise<OrderRow> {
    requireAdmin({ identity });
    return this.changeAsAdmin(id, OrderStatus.Shipped, (tx, order) => this.transitions.apply(tx, order, { to: 'DELIVERED' }));
  }

  private async changeAsAdmin(id: string, required: OrderStatus, change: (tx: EntityManager, order: OrderRow) => Promise<OrderRow>): Promise<OrderRow> {
    return this.deps.transaction(async (tx) => {
      const order = await this.repo.lockOrder(tx, id);
      if (!order) throw notFound('Order', id);
      if (order.status !== required) throw conflict(`Order ${order.number} is ${order.status}; this needs a ${required} order.`, { status: order.status });
      try {
        return await change(tx, order);
      } catch (error) {
        if (error instanceof InvalidTransitionError) throw conflict(error.message, { status: order.status });
        throw error;
      }
    });
  }

  // ------------------------------------------------------------------ reading

  /** The owner or an admin may read an order; anyone else gets FORBIDDEN. */
  assertCanRead(identity: Identity, order: OrderRow): void {
    if (!isAdmin(identity) && order.userId !== identity.userId) throw forbidden('This order belongs to someone else.');
  }

  /** The owner or an admin may read a user's orders. */
  assertCanReadOrdersOf(identity: Identity, userId: string): void {
    if (!isAdmin(identity) && userId !== identity.userId) throw forbidden("You may only see your own orders.");
  }
}

/**
 * Calls off an uncaptured payment: the change to write, or null when there is nothing to call
 * off. A charge never attempted is simply VOIDED; one that was attempted may have gone through, so
 * the worker must find out (VOID_PENDING, `workerNeeded`).
 */
function voidPayment(payment: PaymentRow, now: Date): { patch: Partial<PaymentRow>; workerNeeded: boolean } | null {
  if (payment.status === PaymentStatus.Created || payment.status === PaymentStatus.HeldForReview || (payment.status === PaymentStatus.Pending && !payment.chargeAttempted)) {
    return { patch: { status: PaymentStatus.Voided, token: null, nextAttemptAt: null, updatedAt: now }, workerNeeded: false };
  }
  // A challenge never completed (issue 19): nothing was captured; a success that still arrives by webhook is refunded.
  if (payment.status === PaymentStatus.RequiresAction) return { patch: { status: PaymentStatus.Voided, nextAction: null, updatedAt: now }, workerNeeded: false };
  if (payment.status === PaymentStatus.Pending) {
    // Keep the lease: a charge in flight applies its outcome (and refunds) before anyone looks it up.
    return { patch: { status: PaymentStatus.VoidPending, token: null, nextAttemptAt: now, updatedAt: now }, workerNeeded: true };
  }
  return null;
}

function newPayment(orderId: string, provider: string, amount: string, currencyCode: string, token: string, now: Date): PaymentRow {
  return {
    orderId,
    provider,
    status: PaymentStatus.Created,
    amount,
    currencyCode,
    token,
    last4: null,
    chargeId: null,
    refundId: null,
    declineReason: null,
    chargeAttempted: false,
    attempts: 0,
    nextAttemptAt: null,
    lockedUntil: null,
    lastError: null,
    createdAt: now,
    updatedAt: now,
  };
}
