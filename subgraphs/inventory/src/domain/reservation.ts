/** One line to reserve: a product and how many. */
export interface ReservationLine {
  readonly productId: string;
  readonly quantity: number;
}

/** A line that cannot be reserved: what was asked and what is available (0 for unknown or closed products). */
export interface Shortage {
  readonly productId: string;
  readonly requested: number;
  readonly available: number;
}

export type ReservationPlan = { readonly kind: 'reserve'; readonly lines: readonly ReservationLine[] } | { readonly kind: 'reject'; readonly shortages: readonly Shortage[] };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for ids that can name a stock record (product ids are UUIDs); others are unknown products. */
export function isProductId(id: string): boolean {
  return UUID.test(id);
}

/**
 * Merges the lines of one product (an order may list a product twice) and sorts them by product
 * id: every multi-row change locks stock rows in this one order, so two orders that name the same
 * products in opposite orders can never wait for each other in a cycle (no deadlock).
 */
export function normalizeLines(items: ReadonlyArray<ReservationLine>): ReservationLine[] {
  const byId = new Map<string, number>();
  for (const { productId, quantity } of items) {
    const id = isProductId(productId) ? productId.toLowerCase() : productId;
    byId.set(id, (byId.get(id) ?? 0) + quantity);
  }
  return [...byId].map(([productId, quantity]) => ({ productId, quantity })).sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
}

/**
 * All or nothing: reserves every line when each has enough available stock, else rejects with
 * every line that falls short. `available` maps product id to available stock of OPEN products;
 * a product missing from it (unknown or closed) has 0 available.
 */
export function planReservation(lines: readonly ReservationLine[], available: ReadonlyMap<string, number>): ReservationPlan {
  const shortages: Shortage[] = [];
  for (const line of lines) {
    const have = available.get(line.productId) ?? 0;
    if (line.quantity > have) shortages.push({ productId: line.productId, requested: line.quantity, available: have });
  }
  return shortages.length ? { kind: 'reject', shortages } : { kind: 'reserve', lines };
}
