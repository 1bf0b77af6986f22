import { counter, gauge, histogram } from '@shop/platform';

/**
 * Inventory's business metrics. Names start with `inventory_` (one registry per process is shared
 * by every service of the embedded default); every label has a small fixed set of values.
 */
export function inventoryMetrics() {
  return {
    reservations: counter({
      name: 'inventory_reservations_total',
      help: 'Orders placed that inventory answered, by outcome: reserved (every line), rejected (a line fell short), replayed (the same order placed again got its first answer).',
      labelNames: ['outcome'],
    }),
    reservationSeconds: histogram({
      name: 'inventory_reservation_duration_seconds',
      help: 'Time to decide one reservation (locks, checks, updates and answer, inside the transaction), by outcome.',
      labelNames: ['outcome'],
    }),
    transitions: counter({
      name: 'inventory_reservation_transitions_total',
      help: 'Reservations that left the RESERVED state, by transition (released, shipped) and outcome (done, nothing_held: the order held no reservation).',
      labelNames: ['transition', 'outcome'],
    }),
    lowStockAlerts: counter({ name: 'inventory_low_stock_alerts_total', help: 'inventory.low-stock.v1 events published (one per crossing of the threshold).' }),
    adjustments: counter({ name: 'inventory_adjustments_total', help: 'Admin stock adjustments applied, by direction (in, out).', labelNames: ['direction'] }),
    lowStockProducts: gauge({
      name: 'inventory_low_stock_products',
      help: 'Open products whose available stock is at or below their low-stock threshold (measured at scrape time).',
      async collect() {
        const source = lowStockSource;
        if (!source) return;
        try {
          this.set(await source());
        } catch {
          // A failed count leaves the last value: the scrape itself must not fail because of it.
        }
      },
    }),
    mismatches: gauge({
      name: 'inventory_reconciliation_mismatches',
      help: 'Products whose stock did not add up at the last reconciliation (reserved != open reservations, a negative level, or the ledger off). Should be 0.',
    }),
    reconciliations: counter({ name: 'inventory_reconciliation_runs_total', help: 'Reconciliation runs, by outcome (ok, error).', labelNames: ['outcome'] }),
    reconciliationSeconds: histogram({ name: 'inventory_reconciliation_duration_seconds', help: 'Time of one reconciliation run.' }),
  };
}

export type InventoryMetrics = ReturnType<typeof inventoryMetrics>;

let lowStockSource: (() => Promise<number>) | undefined;

/**
 * Tells the low-stock gauge where to count (the running inventory service's database); answers
 * the remover. The last service started in a process wins (one inventory per process in practice).
 */
export function measureLowStockWith(source: () => Promise<number>): () => void {
  lowStockSource = source;
  return () => {
    if (lowStockSource === source) lowStockSource = undefined;
  };
}
