/**
 * Returns of delivered orders (issue 19): REQUESTED (owner, within RETURN_WINDOW_DAYS of delivery)
 * → APPROVED | REJECTED (admin) → RECEIVED (admin: goods back, `orders.return-received.v1` makes
 * inventory restock, the refund is committed on the payment) → REFUNDED (the provider refunded the
 * lines' share, `orders.payment-refunded.v1`). Every step is one transaction with its events in
 * the outbox; the refund is called outside any transaction under the return's idempotency key and
 * retried by a sweep until the provider answers, so it is made once even across crashes.
 */
import { randomUUID } from 'node:crypto';
import { PaymentRefunded, ReturnApproved, ReturnReceived, ReturnRefunded, ReturnRejected, ReturnRequested } from '@shop/events';
import type { BackgroundJob, Identity, Logger, ServiceDeps } from '@shop/platform';
import { afterCommit, badUserInput, conflict, counter, every, forbidden, notFound, requireAdmin } from '@shop/platform';
import type { EntityManager } from 'typeorm';
import type { OrdersSettings } from '../config';
import { isUuid } from '../domain/checkout';
import { fromCents, toCents } from '../domain/money';
import { OrderStatus } from '../domain/order-status';
import type { PaymentProvider } from '../payments/payment-provider';
import type { OrderRow } from '../persistence/entities';
import type { OrdersRepository } from '../persistence/orders.repository';
import { returnRefund } from './refund-share';
import type { LeasedRefund, ReturnLineRow, ReturnRow } from './returns.repository';
import { ReturnsRepository, ReturnStatus } from './returns.repository';

export interface ReturnLineInput {
  readonly productId: string;
  readonly quantity: number;
}

/** Longest accepted reason (request or rejection). */
const MAX_REASON = 500;
/** Most lines in one return request (an order has at most 50). */
const MAX_LINES = 50;
const DAY_MS = 86_400_000;
/** How long a leased refund is ours: one provider call with the resilient wrapper's retries, plus a margin. */
const REFUND_LEASE_MS = 60_000;

/** The idempotency key of a return's refund: a retry of any kind never refunds twice. */
export function returnRefundKey(returnId: string): string {
  return `return-${returnId}-refund`;
}

function returnsMetrics() {
  return {
    returns: counter({ name: 'orders_returns_total', help: 'Return steps by status reached (REQUESTED, APPROVED, REJECTED, RECEIVED, REFUNDED).', labelNames: ['status'] }),
    refunds: counter({ name: 'orders_return_refund_attempts_total', help: 'Return refund calls to the provider by outcome (refunded, error).', labelNames: ['outcome'] }),
  };
}

export class ReturnsService {
  readonly repo: ReturnsRepository;
  private readonly logger: Logger;
  private readonly metrics = returnsMetrics();

  constructor(
    private readonly deps: ServiceDeps,
    private readonly orders: OrdersRepository,
    private readonly provider: PaymentProvider,
    private readonly settings: OrdersSettings,
  ) {
    this.repo = new ReturnsRepository(deps.dataSource);
    this.logger = deps.logger.child({ component: 'returns' });
  }

  /** The owner asks to return `lines` of a DELIVERED order within the return window. */
  async request(identity: Identity, orderId: string, lines: readonly ReturnLineInput[], reason: string): Promise<ReturnRow> {
    const text = parseReason(reason);
    const wanted = parseLines(lines);
    const id = randomUUID();
    const now = new Date();
    await this.deps.transaction(async (tx) => {
      // The order's lock queues concurrent requests: each counts the units of the ones before it.
      const order = await this.orders.lockOrder(tx, orderId);
      if (!order) throw notFound('Order', orderId);
      if (order.userId !== identity.userId) throw forbidden('Only the customer who placed this order can return it.');
      if (order.status !== OrderStatus.Delivered || !order.deliveredAt) throw conflict(`Order ${order.number} is ${order.status}; only a DELIVERED order can be returned.`, { status: order.status });
      const until = new Date(order.deliveredAt.getTime() + this.settings.RETURN_WINDOW_DAYS * DAY_MS);
      if (now > until) throw conflict(`Order ${order.number} could be returned until ${until.toISOString()}.`, { returnableUntil: until.toISOString() });
      const items = await this.orders.findItems(tx, order.id);
      const returned = await this.repo.unitsInReturns(tx, order.id);
      wanted.forEach((line, i) => {
        const item = items.find((it) => it.productId === line.productId);
        if (!item) throw badUserInput(`lines[${i}].productId`, `Product ${line.productId} is not part of order ${order.number}.`);
        const left = item.quantity - (returned.get(line.productId) ?? 0);
        if (line.quantity > left) throw badUserInput(`lines[${i}].quantity`, left > 0 ? `At most ${left} of ${item.productName} can still be returned.` : `${item.productName} has already been returned in full.`);
      });
      await this.repo.insert(tx, { id, orderId: order.id, userId: order.userId, reason: text, lines: wanted, now });
      await this.deps.outbox.add(tx, ReturnRequested, order.id, { ...eventBase(order, id), items: wanted, requestedAt: now.toISOString() });
      this.committed(tx, ReturnStatus.Requested);
    });
    return this.get(id);
  }

  /** ADMIN: accepts a REQUESTED return. */
  async approve(identity: Identity, id: string): Promise<ReturnRow> {
    requireAdmin({ identity });
    await this.change(id, [ReturnStatus.Requested], async (tx, order, now) => {
      await this.repo.setStatus(tx, id, ReturnStatus.Approved, now);
      await this.deps.outbox.add(tx, ReturnApproved, order.id, { ...eventBase(order, id), approvedAt: now.toISOString() });
      this.committed(tx, ReturnStatus.Approved);
    });
    return this.get(id);
  }

  /** ADMIN: refuses a REQUESTED or APPROVED return (not yet received); its units can be requested again. */
  async reject(identity: Identity, id: string, reason: string): Promise<ReturnRow> {
    requireAdmin({ identity });
    const text = parseReason(reason);
    await this.change(id, [ReturnStatus.Requested, ReturnStatus.Approved], async (tx, order, now) => {
      await this.repo.setStatus(tx, id, ReturnStatus.Rejected, now, { rejectionReason: text });
      await this.deps.outbox.add(tx, ReturnRejected, order.id, { ...eventBase(order, id), reason: text, rejectedAt: now.toISOString() });
      this.committed(tx, ReturnStatus.Rejected);
    });
    return this.get(id);
  }

  /**
   * ADMIN: the goods of an APPROVED return are back. Inventory restocks them (the event); the
   * lines' share of the payment is committed to a refund under the order's and payment's locks
   * (`commitRefund`: never beyond what was paid), and the refund is tried at once, under a lease
   * committed with RECEIVED: a sweep cannot take it in between (the answer would lack the refund
   * the provider makes a moment later); if this process dies first, the lease expires and the
   * sweep retries.
   */
  async receive(identity: Identity, id: string): Promise<ReturnRow> {
    const admin = requireAdmin({ identity });
    const leased = await this.change(id, [ReturnStatus.Approved], async (tx, order, now, current) => {
      const items = await this.orders.findItems(tx, order.id);
      const price = new Map(items.map((i) => [i.productId, toCents(i.unitPrice)]));
      const value = current.lines.reduce((acc, l) => acc + price.get(l.productId)! * BigInt(l.quantity), 0n);
      const before = toCents(await this.repo.receivedValue(tx, order.id));
      const amounts = { subtotal: toCents(order.subtotal), discount: toCents(order.discount), shipping: toCents(order.shipping), tax: toCents(order.tax) };
      const refund = fromCents(returnRefund(amounts, before, value));
      const refundDue = toCents(refund) > 0n;
      if (refundDue && !(await this.repo.commitRefund(tx, order.id, refund))) {
        throw conflict(`The payment of order ${order.number} has nothing left to refund.`, { status: current.status });
      }
      await this.repo.setStatus(tx, id, refundDue ? ReturnStatus.Received : ReturnStatus.Refunded, now, { refundAmount: refund, receivedBy: admin.userId, refundDue });
      const base = eventBase(order, id);
      await this.deps.outbox.add(tx, ReturnReceived, order.id, { ...base, items: current.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })), actorId: admin.userId, receivedAt: now.toISOString() });
      // Nothing to refund (a line bought at a 100 % discount): refunded at once, by nobody.
      if (!refundDue) await this.deps.outbox.add(tx, ReturnRefunded, order.id, { ...base, amount: { amount: refund, currencyCode: order.currencyCode }, refundedAt: now.toISOString() });
      this.committed(tx, ReturnStatus.Received);
      return refundDue ? this.repo.leaseReceivedRefund(tx, id, new Date(now.getTime() + REFUND_LEASE_MS)) : null;
    });
    // `refund` never throws: a failure reschedules the refund for the sweep.
    if (leased) await this.refund(leased);
    return this.get(id);
  }

  /** Refunds every received return whose refund is due and not leased (the sweep). Answers how many were refunded. */
  async refundDue(): Promise<number> {
    const now = new Date();
    const leased = await this.repo.leaseDueRefunds(now, new Date(now.getTime() + REFUND_LEASE_MS), 20);
    const outcomes = await Promise.all(leased.map((l) => this.refund(l)));
    return outcomes.filter(Boolean).length;
  }

  /** The sweep retrying refunds the provider could not make at once. */
  sweep(): BackgroundJob {
    return every('return-refunds', this.settings.RETURN_REFUND_INTERVAL_MS, () => this.refundDue(), this.deps.logger);
  }

  async get(id: string): Promise<ReturnRow> {
    const row = await this.repo.find(this.deps.dataSource.manager, id);
    if (!row) throw notFound('Return', id);
    return row;
  }

  private async refund(leased: LeasedRefund): Promise<boolean> {
    try {
      if (!leased.chargeId) throw new Error('return refund without a charge id');
      const { refundId } = await this.provider.refund({ idempotencyKey: returnRefundKey(leased.id), chargeId: leased.chargeId, amount: leased.amount });
      this.metrics.refunds.inc({ outcome: 'refunded' });
      await this.deps.transaction(async (tx) => {
        const locked = await this.orders.lockOrderAndPayment(tx, leased.orderId);
        if (!locked) return;
        const now = new Date();
        if (!(await this.repo.recordRefund(tx, leased, refundId, now))) return; // recorded by another worker after our lease expired
        const { order } = locked;
        const amount = { amount: leased.amount, currencyCode: order.currencyCode };
        await this.deps.outbox.add(tx, ReturnRefunded, order.id, { ...eventBase(order, leased.id), amount, refundedAt: now.toISOString() });
        await this.deps.outbox.add(tx, PaymentRefunded, order.id, {
          orderId: order.id, amountMinor: Number(toCents(leased.amount)), currencyCode: order.currencyCode, reason: 'return', returnId: leased.id, refundedAt: now.toISOString(),
        });
        this.committed(tx, ReturnStatus.Refunded);
      });
      return true;
    } catch (error) {
      this.metrics.refunds.inc({ outcome: 'error' });
      const delayMs = Math.min(60_000, 500 * 2 ** Math.max(0, leased.attempts - 1));
      this.logger.warn({ err: error, returnId: leased.id, attempts: leased.attempts }, 'return refund failed; rescheduled');
      const message = String(error instanceof Error ? error.message : error).slice(0, 500);
      await this.repo.rescheduleRefund(leased, new Date(Date.now() + delayMs), message).catch((err: unknown) => this.logger.error({ err, returnId: leased.id }, 'could not reschedule a return refund; its lease will expire'));
      return false;
    }
  }

  /**
   * One admin step on a return: its order is locked (and its payment), then the return; the step
   * runs only from one of `from` (CONFLICT with `extensions.status` otherwise). Answers what the step answered, once committed.
   */
  private async change<T>(id: string, from: readonly ReturnStatus[], step: (tx: EntityManager, order: OrderRow, now: Date, current: ReturnRow) => Promise<T>): Promise<T> {
    const orderId = isUuid(id) ? await this.repo.orderOf(id) : null;
    if (!orderId) throw notFound('Return', id);
    return this.deps.transaction(async (tx) => {
      const locked = await this.orders.lockOrderAndPayment(tx, orderId);
      const current = await this.repo.find(tx, id, true);
      if (!locked || !current) throw notFound('Return', id);
      if (!from.includes(current.status)) throw conflict(`Return ${id} is ${current.status}; this needs a ${from.join(' or ')} return.`, { status: current.status });
      return step(tx, locked.order, new Date(), current);
    });
  }

  private committed(tx: EntityManager, status: ReturnStatus): void {
    afterCommit(tx, () => {
      this.deps.wakeOutboxRelay();
      this.metrics.returns.inc({ status });
    });
  }
}

function eventBase(order: Pick<OrderRow, 'id' | 'number' | 'userId'>, returnId: string) {
  return { orderId: order.id, number: order.number, userId: order.userId, returnId };
}

function parseReason(reason: string): string {
  const text = reason.trim();
  if (!text || text.length > MAX_REASON) throw badUserInput('reason', `The reason must be 1 to ${MAX_REASON} characters.`);
  return text;
}

function parseLines(lines: readonly ReturnLineInput[]): ReturnLineRow[] {
  if (lines.length === 0 || lines.length > MAX_LINES) throw badUserInput('lines', `A return has 1 to ${MAX_LINES} lines.`);
  const seen = new Set<string>();
  return lines.map((line, i) => {
    const productId = line.productId.trim().toLowerCase();
    if (!isUuid(productId)) throw badUserInput(`lines[${i}].productId`, 'Not a product id.');
    if (seen.has(productId)) throw badUserInput(`lines[${i}].productId`, 'Each product may appear once in a return.');
    seen.add(productId);
    if (!Number.isInteger(line.quantity) || line.quantity < 1) throw badUserInput(`lines[${i}].quantity`, 'The quantity must be at least 1.');
    return { productId, quantity: line.quantity };
  });
}
