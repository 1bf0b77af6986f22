/**
 * Pricing: the one function that turns a cart into its breakdown (subtotal, discount, shipping,
 * tax, total) and its problems. Used for the cart's totals and, unchanged, for the order at
 * checkout, so a cart and the order it becomes can never disagree.
 *
 * Money is integer minor units (bigint cents; every currency here has two decimals); rates are
 * integer parts per million (ppm: "0.20" = 200000, "12.5" % = 125000). Prices are tax-exclusive.
 * Rounding (the only one, `applyRate`): a rate times an amount is rounded half up to the cent,
 * once per coupon and once for the tax; never per line.
 * - discount = Σ coupons (PERCENT: applyRate(subtotal, percent); FIXED: its amount), capped at the subtotal;
 * - shipping = the method's price, 0 when subtotal − discount ≥ its freeOver;
 * - tax = applyRate(subtotal − discount + shipping, the address country's rate) (shipping is taxed);
 * - total = subtotal − discount + shipping + tax.
 */
import { badUserInput } from '@shop/platform';

export const PPM = 1_000_000n;

/** amount × ppm / 1,000,000, rounded half up to the minor unit (amounts and rates are never negative). */
export function applyRate(amountMinor: bigint, ppm: bigint): bigint {
  return (amountMinor * ppm + PPM / 2n) / PPM;
}

/** Parses a decimal string with at most `scale` decimals into an integer scaled by 10^scale; null when malformed. */
export function parseScaled(value: string, scale: number): bigint | null {
  const m = /^(\d{1,12})(?:\.(\d+))?$/.exec(value.trim());
  if (!m || (m[2] ?? '').length > scale) return null;
  return BigInt(m[1]!) * 10n ** BigInt(scale) + BigInt((m[2] ?? '').padEnd(scale, '0') || '0');
}

/** A money input ("12.5") in minor units; BAD_USER_INPUT naming `field` otherwise. */
export function moneyInput(value: string, field: string): bigint {
  const minor = parseScaled(value, 2);
  if (minor === null || minor > 10_000_000_000n) throw badUserInput(field, 'Expected an amount such as "12.50" (at most two decimals, not negative).');
  return minor;
}

/** A rate ("0.20") in ppm, 0..1; BAD_USER_INPUT naming `field` otherwise. */
export function rateInput(value: string, field: string): bigint {
  const ppm = parseScaled(value, 6);
  if (ppm === null || ppm > PPM) throw badUserInput(field, 'Expected a rate between 0 and 1 such as "0.20" (at most six decimals).');
  return ppm;
}

/** Minor units as the API's decimal string ("12.50"). */
export function formatMinor(minor: bigint): string {
  const sign = minor < 0n ? '-' : '';
  const abs = minor < 0n ? -minor : minor;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

/** ppm as a decimal string with the given scale, trailing zeros trimmed ("0.2", "12.5"). */
export function formatPpm(ppm: bigint, scaleOfOne = 6): string {
  const one = 10n ** BigInt(scaleOfOne);
  const frac = String(ppm % one).padStart(scaleOfOne, '0').replace(/0+$/, '');
  return frac ? `${ppm / one}.${frac}` : String(ppm / one);
}

export type CartProblemCode = 'OUT_OF_STOCK' | 'INSUFFICIENT_STOCK' | 'PRICE_CHANGED' | 'PRODUCT_UNAVAILABLE' | 'COUPON_INVALID';

export interface CartProblem {
  readonly lineId: string | null;
  readonly code: CartProblemCode;
  readonly message: string;
}

/** A cart line with what the read models know of its product now. */
export interface PricingLine {
  readonly id: string;
  readonly productId: string;
  readonly quantity: number;
  /** The price when the line was added or last changed. */
  readonly addedPriceMinor: bigint;
  readonly currencyCode: string;
  /** From product_snapshot: null when orders has never heard of the product. */
  readonly product: { readonly name: string; readonly priceMinor: bigint; readonly currencyCode: string; readonly deleted: boolean } | null;
  /** From stock_snapshot: null when inventory has not told yet (no problem is claimed then). */
  readonly available: number | null;
}

export interface PricingCoupon {
  readonly id: string;
  readonly code: string;
  readonly kind: 'PERCENT' | 'FIXED';
  readonly percentPpm: bigint | null;
  readonly fixedMinor: bigint | null;
  readonly currencyCode: string;
  readonly minSubtotalMinor: bigint | null;
  readonly validFrom: Date | null;
  readonly validUntil: Date | null;
  readonly maxRedemptions: number | null;
  readonly maxRedemptionsPerCustomer: number | null;
  readonly redemptions: number;
  /** Held redemptions of this coupon by the cart's customer (0 for a guest). */
  readonly customerRedemptions: number;
}

export interface PricingShippingMethod {
  readonly id: string;
  readonly name: string;
  readonly priceMinor: bigint;
  readonly freeOverMinor: bigint | null;
  readonly currencyCode: string;
  readonly countries: readonly string[];
}

export interface PricingInput {
  readonly lines: readonly PricingLine[];
  /** The coupons the cart holds, in the cart's order; a code no longer known is passed in `unknownCodes`. */
  readonly coupons: readonly PricingCoupon[];
  readonly unknownCodes?: readonly string[];
  readonly shippingMethod: PricingShippingMethod | null;
  /** The shipping address' country, if any. */
  readonly country: string | null;
  /** Its tax rate in ppm (0 when the country has none or there is no address). */
  readonly taxPpm: bigint;
  readonly now: Date;
}

export interface Breakdown {
  /** The cart's currency: its lines' (the first line's), else the default. */
  readonly currencyCode: string;
  readonly lines: ReadonlyArray<{ readonly id: string; readonly unitPriceMinor: bigint; readonly lineTotalMinor: bigint }>;
  readonly itemCount: number;
  readonly subtotal: bigint;
  readonly discount: bigint;
  /** null while no method is chosen. */
  readonly shipping: bigint | null;
  readonly tax: bigint;
  readonly total: bigint;
  /** The coupons that apply (the others are COUPON_INVALID problems). */
  readonly appliedCoupons: readonly PricingCoupon[];
  readonly problems: readonly CartProblem[];
}

export const DEFAULT_CURRENCY = 'USD';

/** Why a coupon does not apply to a subtotal now (null when it does). */
export function couponRefusal(c: PricingCoupon, subtotal: bigint, currencyCode: string, now: Date): string | null {
  if (c.validFrom && now < c.validFrom) return `Coupon ${c.code} is not valid before ${c.validFrom.toISOString()}.`;
  if (c.validUntil && now >= c.validUntil) return `Coupon ${c.code} expired on ${c.validUntil.toISOString()}.`;
  if (c.currencyCode !== currencyCode) return `Coupon ${c.code} is for ${c.currencyCode}; this cart is in ${currencyCode}.`;
  if (c.maxRedemptions !== null && c.redemptions >= c.maxRedemptions) return `Coupon ${c.code} has been used up.`;
  if (c.maxRedemptionsPerCustomer !== null && c.customerRedemptions >= c.maxRedemptionsPerCustomer) return `You have already used coupon ${c.code} as often as it allows.`;
  if (c.minSubtotalMinor !== null && subtotal < c.minSubtotalMinor) return `Coupon ${c.code} needs a subtotal of at least ${formatMinor(c.minSubtotalMinor)} ${c.currencyCode}.`;
  return null;
}

/** Whether a shipping method serves a country (an empty list serves everywhere) in this currency. */
export function shipsTo(m: PricingShippingMethod, country: string | null, currencyCode: string): boolean {
  return m.currencyCode === currencyCode && (country === null || m.countries.length === 0 || m.countries.includes(country));
}

/** The breakdown and problems of a cart (see the module comment for every rule). */
export function priceCart(input: PricingInput): Breakdown {
  const problems: CartProblem[] = [];
  const currencyCode = input.lines[0]?.product?.currencyCode ?? input.lines[0]?.currencyCode ?? DEFAULT_CURRENCY;
  const lines = input.lines.map((l) => {
    const p = l.product;
    if (!p || p.deleted) problems.push({ lineId: l.id, code: 'PRODUCT_UNAVAILABLE', message: 'This product is no longer sold.' });
    else if (p.priceMinor !== l.addedPriceMinor) {
      problems.push({ lineId: l.id, code: 'PRICE_CHANGED', message: `The price changed from ${formatMinor(l.addedPriceMinor)} to ${formatMinor(p.priceMinor)} ${p.currencyCode}; update the line to accept it.` });
    }
    if (p && !p.deleted && l.available !== null) {
      if (l.available <= 0) problems.push({ lineId: l.id, code: 'OUT_OF_STOCK', message: `${p.name} is out of stock.` });
      else if (l.available < l.quantity) problems.push({ lineId: l.id, code: 'INSUFFICIENT_STOCK', message: `Only ${l.available} of ${p.name} left.` });
    }
    const unitPriceMinor = p && !p.deleted ? p.priceMinor : l.addedPriceMinor;
    return { id: l.id, unitPriceMinor, lineTotalMinor: unitPriceMinor * BigInt(l.quantity), sold: !!p && !p.deleted };
  });
  const subtotal = lines.reduce((acc, l) => acc + (l.sold ? l.lineTotalMinor : 0n), 0n);
  for (const code of input.unknownCodes ?? []) problems.push({ lineId: null, code: 'COUPON_INVALID', message: `Coupon ${code} no longer exists.` });
  const appliedCoupons: PricingCoupon[] = [];
  let discount = 0n;
  for (const c of input.coupons) {
    const refusal = couponRefusal(c, subtotal, currencyCode, input.now);
    if (refusal) {
      problems.push({ lineId: null, code: 'COUPON_INVALID', message: refusal });
      continue;
    }
    appliedCoupons.push(c);
    discount += c.kind === 'PERCENT' ? applyRate(subtotal, c.percentPpm!) : c.fixedMinor!;
  }
  if (discount > subtotal) discount = subtotal;
  const m = input.shippingMethod && shipsTo(input.shippingMethod, input.country, currencyCode) ? input.shippingMethod : null;
  const shipping = m ? (m.freeOverMinor !== null && subtotal - discount >= m.freeOverMinor ? 0n : m.priceMinor) : null;
  const tax = input.country ? applyRate(subtotal - discount + (shipping ?? 0n), input.taxPpm) : 0n;
  const total = subtotal - discount + (shipping ?? 0n) + tax;
  const itemCount = input.lines.reduce((acc, l) => acc + l.quantity, 0);
  return { currencyCode, lines: lines.map(({ id, unitPriceMinor, lineTotalMinor }) => ({ id, unitPriceMinor, lineTotalMinor })), itemCount, subtotal, discount, shipping, tax, total, appliedCoupons, problems };
}
