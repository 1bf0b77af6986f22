/**
 * What a return refunds, in integer cents (issue 19). One rule, documented in docs/notes/orders.md:
 *
 * - The goods pool P is what the customer paid for the goods: subtotal − discount, plus the goods'
 *   share of the tax, floor(tax × (subtotal − discount) / (subtotal − discount + shipping)).
 *   Shipping and its share of the tax are not refunded by returns.
 * - Returned goods are valued at their unit prices: V = Σ unit price × returned quantity, over
 *   every return of the order received so far, this one included.
 * - The cumulative refund for V is floor(P × V / subtotal). A return refunds the difference between
 *   the cumulative refund with and without its own goods.
 *
 * So the refunds of all returns of an order add up to floor(P × V_all / subtotal) ≤ P ≤ what was
 * paid, whatever the order the returns arrive in, and returning everything refunds exactly P (the
 * whole payment when there was no shipping fee): rounding never accumulates, each cent lost to a
 * floor is given back by a later return.
 */

export interface OrderAmounts {
  readonly subtotal: bigint;
  readonly discount: bigint;
  readonly shipping: bigint;
  readonly tax: bigint;
}

/** The goods pool P (see above), in cents. */
export function goodsPool(a: OrderAmounts): bigint {
  const goods = a.subtotal - a.discount;
  if (goods <= 0n) return 0n;
  const taxBase = goods + a.shipping;
  return goods + (taxBase > 0n ? (a.tax * goods) / taxBase : 0n);
}

/** The refund of a return whose goods are worth `thisValue`, after returns worth `alreadyReturned` (all in cents). */
export function returnRefund(a: OrderAmounts, alreadyReturned: bigint, thisValue: bigint): bigint {
  if (a.subtotal <= 0n) return 0n;
  const pool = goodsPool(a);
  const cumulative = (value: bigint) => (pool * (value > a.subtotal ? a.subtotal : value)) / a.subtotal;
  return cumulative(alreadyReturned + thisValue) - cumulative(alreadyReturned);
}
