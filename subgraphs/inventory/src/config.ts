import { defineSettings, env } from '@shop/platform';

/** Inventory's own settings (environment variables when standalone, typed overrides when embedded). */
export const inventorySettings = defineSettings({
  /** How often the reconciliation checks every product's stock. Default 60 000 ms (1 min), at least 100 ms. */
  INVENTORY_RECONCILIATION_INTERVAL_MS: env.int(60_000, 100),
});
