import type { BackgroundJob, ServiceDeps } from '@shop/platform';
import { every } from '@shop/platform';
import type { InventoryService } from './inventory.service';
import { inventoryMetrics, measureLowStockWith } from './metrics';

/** Mismatching products named in one log line at most (the gauge has the full count). */
const LOGGED_MISMATCHES = 20;

/**
 * The accuracy check: every `intervalMs` (first run at start) it checks per product that reserved
 * equals the sum of open reservations, that no level is negative and that the ledger adds up, and
 * exports the number of products that do not as `inventory_reconciliation_mismatches` (should be
 * 0). It reports and never repairs: a mismatch is a bug to find, and a silent fix would hide it.
 * It also points the low-stock gauge at this service's database.
 */
export function startReconciliation(deps: ServiceDeps, inventory: InventoryService, intervalMs: number): BackgroundJob {
  const metrics = inventoryMetrics();
  const removeLowStockSource = measureLowStockWith(() => inventory.repo.countLowStock());
  const runOnce = async (): Promise<void> => {
    const end = metrics.reconciliationSeconds.startTimer();
    try {
      const mismatches = await inventory.reconcile();
      metrics.mismatches.set(mismatches.length);
      metrics.reconciliations.inc({ outcome: 'ok' });
      if (mismatches.length) deps.logger.error({ count: mismatches.length, mismatches: mismatches.slice(0, LOGGED_MISMATCHES) }, 'stock reconciliation found mismatches');
    } catch (error) {
      metrics.reconciliations.inc({ outcome: 'error' });
      throw error;
    } finally {
      end();
    }
  };
  const job = every('stock-reconciliation', intervalMs, runOnce, deps.logger, { firstRunAfterMs: 0 });
  return {
    stop: async () => {
      await job.stop();
      removeLowStockSource();
    },
  };
}
