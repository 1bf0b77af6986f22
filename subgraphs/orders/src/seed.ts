/**
 * Demo pricing data for `npm start` (SEED): shipping methods, tax rates for some countries and one
 * public coupon, so that the README's walkthrough shows a full breakdown. Idempotent: a shop that
 * has any shipping method already is left as it is.
 */
import type { ServiceDeps } from '@shop/platform';
import type { OrdersParts } from './setup';

/** The demo coupon the README uses: 10 % off from 30.00. */
export const DEMO_COUPON = 'WELCOME10';

export async function seedOrders({ carts }: OrdersParts, deps: ServiceDeps): Promise<void> {
  if ((await carts.shippingMethods()).length > 0) return;
  const asAdmin = { identity: { userId: 'seed', roles: ['ADMIN' as const], sessionId: 'seed', exp: Number.MAX_SAFE_INTEGER } };
  await carts.createShippingMethod(asAdmin, { name: 'Standard', price: '4.99', freeOver: '50.00', estimatedDays: 5, countries: ['US', 'CA'] });
  await carts.createShippingMethod(asAdmin, { name: 'EU Post', price: '6.50', freeOver: '80.00', estimatedDays: 4, countries: ['DE', 'FR', 'NL', 'IT', 'ES'] });
  await carts.createShippingMethod(asAdmin, { name: 'Express worldwide', price: '14.90', estimatedDays: 2, countries: [] });
  for (const [country, rate] of [['US', '0.0825'], ['CA', '0.05'], ['DE', '0.19'], ['FR', '0.20'], ['NL', '0.21'], ['GB', '0.20']] as const) await carts.setTaxRate(asAdmin, country, rate);
  await carts.createCoupon(asAdmin, { code: DEMO_COUPON, kind: 'PERCENT', value: '10', minSubtotal: '30.00' });
  deps.logger.info({ coupon: DEMO_COUPON }, 'demo shipping methods, tax rates and coupon created');
}
