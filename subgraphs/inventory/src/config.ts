import { z } from 'zod';
import { env, loadConfig } from '@shop/platform';

/** Inventory's own settings (environment variables when standalone, `settings.extra` when embedded). */
export const inventoryEnv = {
  /** How often the reconciliation checks every product's stock. Default 60 000 ms (1 min), at least 100 ms. */
  INVENTORY_RECONCILIATION_INTERVAL_MS: env.int(60_000, 100),
};

export type InventorySettings = z.infer<z.ZodObject<typeof inventoryEnv>>;

/** Reads inventory's settings from `extra`; values may be numbers or strings. A bad one throws a ConfigError naming it. */
export function inventorySettings(extra: Readonly<Record<string, unknown>> = {}): InventorySettings {
  const asEnv: NodeJS.ProcessEnv = {};
  for (const key of Object.keys(inventoryEnv)) {
    const value = extra[key];
    if (value !== undefined && value !== null) asEnv[key] = String(value);
  }
  return loadConfig(inventoryEnv, asEnv);
}
