/** Every setting the catalog reads, parsed once by the platform (environment, or typed overrides in tests). */
import type { SettingsOf } from '@shop/platform';
import { defineSettings, env } from '@shop/platform';
import { z } from 'zod';

const catalogShape = {
  /**
   * Where browsers reach the catalog's own files (product pictures at /images/products/…), e.g.
   * https://shop.example.com/catalog. Unset: the address the gateway reaches the catalog at (fine
   * for `npm start`, where everything runs on localhost).
   */
  CATALOG_PUBLIC_URL: env.url().optional(),
  /**
   * Extra generated products the demo seed adds to the 50 demo ones (benchmarks, e.g. 100000; one
   * SQL statement, no events: inventory and orders do not learn them). Default 0.
   */
  CATALOG_DEMO_EXTRA_PRODUCTS: z.coerce.number().int().min(0).max(1_000_000).default(0),
};

export const catalogSettings = defineSettings(catalogShape);
export type CatalogSettings = SettingsOf<typeof catalogShape>;
