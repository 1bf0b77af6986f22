/**
 * The sales report (ADMIN): a read model of the orders service's own events (placed, confirmed,
 * cancelled, refunded), so it answers from a few thousand hourly rows, never from the orders.
 *
 * - A sale counts in the hour (UTC) of its confirmation, in the order's currency.
 * - A cancellation takes the sale out of that same hour (orders, revenue, units): a past period's
 *   figures are restated, so a report always shows what was really sold.
 * - A refund of a cancelled order changes nothing more (its revenue is already gone); a refund of
 *   a sale that stands (a partial refund) lowers its hour's revenue.
 * - Conversion = carts checked out ÷ carts created, both counted in the hour (UTC) of their event
 *   (`orders.cart-checked-out.v1`, `orders.cart-created.v1`) over the period's hours, all
 *   currencies (a cart has none when created); null when no cart was created in the period.
 */
import type { EventHandler, ServiceDeps } from '@shop/platform';
import { badUserInput, on, requireAdmin } from '@shop/platform';
import type { AuthContext } from '@shop/platform';
import { CartCheckedOut, CartCreated, OrderCancelled, OrderConfirmed, OrderPlaced, OrderRefunded, ReturnRefunded } from '@shop/events';
import type { ReportInterval } from './sales-report.repository';
import { SalesReportRepository } from './sales-report.repository';

/** Longest period of one report, per interval (points per answer stay bounded). */
export const MAX_REPORT_DAYS: Readonly<Record<ReportInterval, number>> = { HOUR: 31, DAY: 400, WEEK: 2000 };
/** Products listed in topProducts. */
export const TOP_PRODUCTS = 10;
const INTERVALS: readonly ReportInterval[] = ['HOUR', 'DAY', 'WEEK'];

export interface SalesReportArgs {
  readonly from: string;
  readonly to: string;
  readonly interval?: ReportInterval | null;
  readonly currencyCode?: string | null;
}

function parseTime(field: string, value: unknown): Date {
  const at = typeof value === 'string' ? new Date(value) : null;
  if (!at || Number.isNaN(at.getTime())) throw badUserInput(field, `${field} must be an ISO-8601 date-time.`);
  return at;
}

export function salesReportParts(deps: ServiceDeps) {
  const repo = new SalesReportRepository(deps.dataSource);

  const consumers: ReadonlyArray<EventHandler<any>> = [
    on(OrderPlaced, (e, tx) =>
      repo.in(tx).recordPlaced({
        orderId: e.data.orderId,
        currencyCode: e.data.total.currencyCode,
        total: e.data.total.amount,
        placedAt: e.data.placedAt,
        lines: e.data.items.map((i) => ({ productId: i.productId, quantity: i.quantity, unitPrice: i.unitPrice.amount })),
      }),
    ),
    on(OrderConfirmed, async (e, tx) => {
      if (!(await repo.in(tx).recordConfirmed(e.data.orderId, e.occurredAt))) deps.logger.debug({ orderId: e.data.orderId }, 'sales report: confirmation not counted (unknown, counted or cancelled)');
    }),
    on(OrderCancelled, (e, tx) => repo.in(tx).recordCancelled(e.data.orderId)),
    on(OrderRefunded, (e, tx) => repo.in(tx).recordRefunded(e.data.orderId, e.data.amount.amount)),
    // Issue 19: a return's refund is a partial refund of a sale that stands.
    on(ReturnRefunded, (e, tx) => repo.in(tx).recordRefunded(e.data.orderId, e.data.amount.amount)),
    on(CartCreated, (e, tx) => repo.in(tx).recordCart('created', e.data.at)),
    on(CartCheckedOut, (e, tx) => repo.in(tx).recordCart('checked_out', e.data.at)),
  ];

  /** `salesReport(from, to, interval, currencyCode)`: ADMIN only. */
  async function report(ctx: AuthContext, args: SalesReportArgs) {
    requireAdmin(ctx);
    const from = parseTime('from', args.from);
    const to = parseTime('to', args.to);
    if (to <= from) throw badUserInput('to', 'to must be after from.');
    const interval = args.interval ?? 'DAY';
    if (!INTERVALS.includes(interval)) throw badUserInput('interval', 'interval must be HOUR, DAY or WEEK.');
    if (to.getTime() - from.getTime() > MAX_REPORT_DAYS[interval] * 86_400_000) {
      throw badUserInput('to', `A report by ${interval.toLowerCase()} covers at most ${MAX_REPORT_DAYS[interval]} days.`);
    }
    const currencyCode = args.currencyCode ?? 'USD';
    if (!/^[A-Z]{3}$/.test(currencyCode)) throw badUserInput('currencyCode', 'currencyCode must be an ISO-4217 code such as USD.');
    const [points, top, conversion] = await Promise.all([repo.points(currencyCode, from, to, interval), repo.topProducts(currencyCode, from, to, TOP_PRODUCTS), repo.conversion(from, to)]);
    const money = (amount: string) => ({ amount, currencyCode });
    return {
      currencyCode,
      points: points.map((p) => ({ start: p.start.toISOString(), orders: p.orders, revenue: money(p.revenue), averageOrderValue: money(p.averageOrderValue) })),
      topProducts: top.map((t) => ({ product: { __typename: 'Product', id: t.productId }, unitsSold: t.unitsSold, revenue: money(t.revenue) })),
      conversion,
    };
  }

  return { repo, consumers, report };
}

export type SalesReportParts = ReturnType<typeof salesReportParts>;
