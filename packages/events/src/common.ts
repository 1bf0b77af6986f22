import { z } from 'zod';

/** A decimal amount as a string ("29.99"): money never travels as a float. */
export const decimal = z.string().regex(/^-?\d{1,12}(\.\d{1,4})?$/, 'expected a decimal string');
export const money = z.object({ amount: decimal, currencyCode: z.string().length(3) });
export type MoneyPayload = z.infer<typeof money>;
export const id = z.string().min(1).max(100);
/** A point in time as ISO-8601 UTC (`Date.prototype.toISOString`). */
export const timestamp = z.iso.datetime();
