/**
 * Carts, shipping methods, tax rates and coupons (issue 18). Every method takes the manager it runs
 * on (the DataSource's, or the caller's transaction), so checkout reads and locks what it prices.
 * A cart's shipping address is encrypted at rest (issue 20; ShippingPrivacy): rows are sealed here
 * on write and opened on read, so the rest of orders sees plaintext.
 */
import type { EntityManager } from 'typeorm';
import type { PricingCoupon, PricingLine, PricingShippingMethod } from '../domain/pricing';
import type { ShippingPrivacy } from '../privacy/shipping-privacy';

export interface CartRow {
  readonly id: string;
  readonly ownerId: string | null;
  readonly couponCodes: string[];
  readonly shipLine1: string | null;
  readonly shipLine2: string | null;
  readonly shipCity: string | null;
  readonly shipPostalCode: string | null;
  readonly shipCountry: string | null;
  readonly shippingMethodId: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface ShippingMethodRow extends PricingShippingMethod {
  readonly estimatedDays: number | null;
}

export interface CouponRow extends Omit<PricingCoupon, 'customerRedemptions'> {
  readonly value: string;
}

const CART = `c.id, c.owner_id AS "ownerId", c.coupon_codes AS "couponCodes", c.ship_line1 AS "shipLine1", c.ship_line2 AS "shipLine2",
  c.ship_city AS "shipCity", c.ship_postal_code AS "shipPostalCode", trim(c.ship_country) AS "shipCountry",
  c.shipping_method_id AS "shippingMethodId", c.created_at AS "createdAt", c.updated_at AS "updatedAt"`;
const METHOD = `m.id, m.name, m.price_minor AS "priceMinor", m.free_over_minor AS "freeOverMinor", trim(m.currency_code) AS "currencyCode",
  m.estimated_days AS "estimatedDays", m.countries`;
const COUPON = `k.id, k.code, k.kind, k.value, k.percent_ppm AS "percentPpm", k.fixed_minor AS "fixedMinor", trim(k.currency_code) AS "currencyCode",
  k.min_subtotal_minor AS "minSubtotalMinor", k.valid_from AS "validFrom", k.valid_until AS "validUntil", k.max_redemptions AS "maxRedemptions",
  k.max_redemptions_per_customer AS "maxRedemptionsPerCustomer", k.redemptions`;

const big = (v: unknown): bigint | null => (v === null || v === undefined ? null : BigInt(v as string));

function method(r: Record<string, unknown>): ShippingMethodRow {
  return {
    id: r['id'] as string,
    name: r['name'] as string,
    priceMinor: big(r['priceMinor'])!,
    freeOverMinor: big(r['freeOverMinor']),
    currencyCode: r['currencyCode'] as string,
    estimatedDays: (r['estimatedDays'] as number | null) ?? null,
    countries: r['countries'] as string[],
  };
}

function coupon(r: Record<string, unknown>): CouponRow {
  return {
    id: r['id'] as string,
    code: r['code'] as string,
    kind: r['kind'] as 'PERCENT' | 'FIXED',
    value: r['value'] as string,
    percentPpm: big(r['percentPpm']),
    fixedMinor: big(r['fixedMinor']),
    currencyCode: r['currencyCode'] as string,
    minSubtotalMinor: big(r['minSubtotalMinor']),
    validFrom: (r['validFrom'] as Date | null) ?? null,
    validUntil: (r['validUntil'] as Date | null) ?? null,
    maxRedemptions: (r['maxRedemptions'] as number | null) ?? null,
    maxRedemptionsPerCustomer: (r['maxRedemptionsPerCustomer'] as number | null) ?? null,
    redemptions: r['redemptions'] as number,
  };
}

/** TypeORM answers [rows, count] for UPDATE/DELETE … RETURNING on Postgres. */
function returned(result: unknown): Array<Record<string, unknown>> {
  const r = result as unknown[];
  return (Array.isArray(r[0]) ? r[0] : r) as Array<Record<string, unknown>>;
}

/** The cart's shipping columns that are sealed, and their column names in ShippingPrivacy. */
const SEALED = { shipLine1: 'line1', shipLine2: 'line2', shipCity: 'city', shipPostalCode: 'postal_code' } as const;

export class CartsRepository {
  constructor(private readonly privacy: ShippingPrivacy) {}

  // ------------------------------------------------------------------ carts

  async insertCart(m: EntityManager, id: string, ownerId: string | null, now: Date): Promise<void> {
    await m.query('INSERT INTO cart (id, owner_id, created_at, updated_at) VALUES ($1, $2, $3, $3) ON CONFLICT (owner_id) DO NOTHING', [id, ownerId, now]);
  }

  /** A live cart (active since `activeSince`), locked for the transaction with `lock`. */
  async findCart(m: EntityManager, id: string, activeSince: Date, lock = false): Promise<CartRow | null> {
    const rows = (await m.query(`SELECT ${CART} FROM cart c WHERE c.id = $1 AND c.updated_at >= $2${lock ? ' FOR UPDATE' : ''}`, [id, activeSince])) as CartRow[];
    return rows[0] ? this.privacy.openCart(rows[0]) : null;
  }

  async findOwnedCart(m: EntityManager, ownerId: string, activeSince: Date, lock = false): Promise<CartRow | null> {
    const rows = (await m.query(`SELECT ${CART} FROM cart c WHERE c.owner_id = $1 AND c.updated_at >= $2${lock ? ' FOR UPDATE' : ''}`, [ownerId, activeSince])) as CartRow[];
    return rows[0] ? this.privacy.openCart(rows[0]) : null;
  }

  /** Removes the owner's cart if it expired (so that a fresh one can take its place). */
  async dropExpiredOwnedCart(m: EntityManager, ownerId: string, activeSince: Date): Promise<void> {
    await m.query('DELETE FROM cart WHERE owner_id = $1 AND updated_at < $2', [ownerId, activeSince]);
  }

  async touch(m: EntityManager, cartId: string, now: Date, patch: Partial<Pick<CartRow, 'couponCodes' | 'shipLine1' | 'shipLine2' | 'shipCity' | 'shipPostalCode' | 'shipCountry' | 'shippingMethodId'>> = {}): Promise<CartRow> {
    const columns: Record<string, string> = {
      couponCodes: 'coupon_codes', shipLine1: 'ship_line1', shipLine2: 'ship_line2', shipCity: 'ship_city',
      shipPostalCode: 'ship_postal_code', shipCountry: 'ship_country', shippingMethodId: 'shipping_method_id',
    };
    const params: unknown[] = [cartId, now];
    const sets = ['updated_at = $2'];
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      const sealed = SEALED[k as keyof typeof SEALED];
      params.push(sealed ? this.privacy.sealCart(sealed, cartId, v as string | null) : v);
      sets.push(`${columns[k]!} = $${params.length}`);
    }
    // The row as written comes back with the write: no second read of it (one round trip less per cart change).
    const row = returned(await m.query(`UPDATE cart c SET ${sets.join(', ')} WHERE c.id = $1 RETURNING ${CART}`, params))[0] as CartRow | undefined;
    if (!row) throw new Error(`cart ${cartId} vanished under its lock`);
    return this.privacy.openCart(row);
  }

  async deleteCart(m: EntityManager, cartId: string): Promise<void> {
    await m.query('DELETE FROM cart WHERE id = $1', [cartId]);
  }

  // ------------------------------------------------------------------ lines

  /** The cart's lines with what orders' read models know of their products now, oldest first. */
  async lines(m: EntityManager, cartId: string): Promise<PricingLine[]> {
    const rows = (await m.query(
      `SELECT l.id, l.product_id AS "productId", l.quantity, l.unit_price_minor AS "addedPriceMinor", trim(l.currency_code) AS "currencyCode",
              p.name, (p.price * 100)::bigint AS "priceMinor", trim(p.currency_code) AS "productCurrency", p.deleted, s.available
       FROM cart_line l LEFT JOIN product_snapshot p ON p.product_id = l.product_id LEFT JOIN stock_snapshot s ON s.product_id = l.product_id
       WHERE l.cart_id = $1 ORDER BY l.added_at, l.id`,
      [cartId],
    )) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      id: r['id'] as string,
      productId: r['productId'] as string,
      quantity: r['quantity'] as number,
      addedPriceMinor: BigInt(r['addedPriceMinor'] as string),
      currencyCode: r['currencyCode'] as string,
      product: r['name'] === null ? null : { name: r['name'] as string, priceMinor: BigInt(r['priceMinor'] as string), currencyCode: r['productCurrency'] as string, deleted: r['deleted'] as boolean },
      available: (r['available'] as number | null) ?? null,
    }));
  }

  /** What the read models know of one product: its price now and available stock (null when unknown). */
  async product(m: EntityManager, productId: string): Promise<{ name: string; priceMinor: bigint; currencyCode: string; deleted: boolean; available: number | null } | null> {
    const rows = (await m.query(
      `SELECT p.name, (p.price * 100)::bigint AS "priceMinor", trim(p.currency_code) AS "currencyCode", p.deleted, s.available
       FROM product_snapshot p LEFT JOIN stock_snapshot s ON s.product_id = p.product_id WHERE p.product_id = $1`,
      [productId],
    )) as Array<Record<string, unknown>>;
    const r = rows[0];
    return r ? { name: r['name'] as string, priceMinor: BigInt(r['priceMinor'] as string), currencyCode: r['currencyCode'] as string, deleted: r['deleted'] as boolean, available: (r['available'] as number | null) ?? null } : null;
  }

  /** Sets a product's line to `quantity` at `priceMinor` (inserting it when new). */
  async putLine(m: EntityManager, cartId: string, lineId: string, productId: string, quantity: number, priceMinor: bigint, currencyCode: string, now: Date): Promise<void> {
    await m.query(
      `INSERT INTO cart_line (id, cart_id, product_id, quantity, unit_price_minor, currency_code, added_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity, unit_price_minor = excluded.unit_price_minor, currency_code = excluded.currency_code`,
      [lineId, cartId, productId, quantity, priceMinor.toString(), currencyCode, now],
    );
  }

  async deleteLine(m: EntityManager, cartId: string, lineId: string): Promise<void> {
    await m.query('DELETE FROM cart_line WHERE cart_id = $1 AND id = $2', [cartId, lineId]);
  }

  // ------------------------------------------------------------------ shipping methods, tax rates

  async shippingMethods(m: EntityManager): Promise<ShippingMethodRow[]> {
    return ((await m.query(`SELECT ${METHOD} FROM shipping_method m ORDER BY m.price_minor, m.name, m.id`)) as Array<Record<string, unknown>>).map(method);
  }

  async shippingMethod(m: EntityManager, id: string): Promise<ShippingMethodRow | null> {
    const rows = (await m.query(`SELECT ${METHOD} FROM shipping_method m WHERE m.id = $1`, [id])) as Array<Record<string, unknown>>;
    return rows[0] ? method(rows[0]) : null;
  }

  async insertShippingMethod(m: EntityManager, row: ShippingMethodRow): Promise<void> {
    await m.query('INSERT INTO shipping_method (id, name, price_minor, free_over_minor, currency_code, estimated_days, countries) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      row.id, row.name, row.priceMinor.toString(), row.freeOverMinor?.toString() ?? null, row.currencyCode, row.estimatedDays, row.countries,
    ]);
  }

  async taxRates(m: EntityManager): Promise<Array<{ country: string; ratePpm: bigint }>> {
    const rows = (await m.query('SELECT trim(country) AS country, rate_ppm AS "ratePpm" FROM tax_rate ORDER BY country')) as Array<{ country: string; ratePpm: number }>;
    return rows.map((r) => ({ country: r.country, ratePpm: BigInt(r.ratePpm) }));
  }

  async taxRate(m: EntityManager, country: string): Promise<bigint> {
    const rows = (await m.query('SELECT rate_ppm AS "ratePpm" FROM tax_rate WHERE country = $1', [country])) as Array<{ ratePpm: number }>;
    return BigInt(rows[0]?.ratePpm ?? 0);
  }

  async setTaxRate(m: EntityManager, country: string, ratePpm: bigint): Promise<void> {
    await m.query('INSERT INTO tax_rate (country, rate_ppm) VALUES ($1, $2) ON CONFLICT (country) DO UPDATE SET rate_ppm = excluded.rate_ppm, updated_at = now()', [country, ratePpm.toString()]);
  }

  // ------------------------------------------------------------------ coupons

  async coupons(m: EntityManager): Promise<CouponRow[]> {
    return ((await m.query(`SELECT ${COUPON} FROM coupon k ORDER BY k.created_at, k.id`)) as Array<Record<string, unknown>>).map(coupon);
  }

  /** Coupons by code (case-insensitive), with the customer's held redemptions of each (0 without a customer). */
  async couponsByCode(m: EntityManager, codes: readonly string[], customerKey: string | null): Promise<Array<CouponRow & { customerRedemptions: number }>> {
    if (codes.length === 0) return [];
    const rows = (await m.query(
      `SELECT ${COUPON}, (SELECT count(*)::int FROM coupon_redemption r WHERE r.coupon_id = k.id AND r.customer_key = $2 AND r.released_at IS NULL) AS "customerRedemptions"
       FROM coupon k WHERE upper(k.code) = ANY($1)`,
      [codes.map((c) => c.toUpperCase()), customerKey ?? ''],
    )) as Array<Record<string, unknown>>;
    return rows.map((r) => ({ ...coupon(r), customerRedemptions: r['customerRedemptions'] as number }));
  }

  /** Inserts a coupon; false when its code exists already (case-insensitive). */
  async insertCoupon(m: EntityManager, c: CouponRow): Promise<boolean> {
    const rows = (await m.query(
      `INSERT INTO coupon (id, code, kind, value, percent_ppm, fixed_minor, currency_code, min_subtotal_minor, valid_from, valid_until, max_redemptions, max_redemptions_per_customer)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT ((upper(code))) DO NOTHING RETURNING id`,
      [c.id, c.code, c.kind, c.value, c.percentPpm?.toString() ?? null, c.fixedMinor?.toString() ?? null, c.currencyCode, c.minSubtotalMinor?.toString() ?? null,
        c.validFrom, c.validUntil, c.maxRedemptions, c.maxRedemptionsPerCustomer],
    )) as unknown[];
    return rows.length > 0;
  }

  /**
   * Takes one redemption of a coupon for an order, in the checkout's transaction: the conditional
   * increment locks the coupon row, so concurrent checkouts queue on it and each re-checks the limit
   * on the newest row (never more than max_redemptions); the per-customer count is read under that
   * lock. False when the coupon is used up (for everyone or for this customer).
   */
  async redeem(m: EntityManager, couponId: string, orderId: string, customerKey: string, now: Date): Promise<boolean> {
    const rows = returned(
      await m.query(`UPDATE coupon SET redemptions = redemptions + 1 WHERE id = $1 AND (max_redemptions IS NULL OR redemptions < max_redemptions) RETURNING max_redemptions_per_customer AS "perCustomer"`, [couponId]),
    );
    if (rows.length === 0) return false;
    const perCustomer = rows[0]!['perCustomer'] as number | null;
    if (perCustomer !== null) {
      const [held] = (await m.query('SELECT count(*)::int AS n FROM coupon_redemption WHERE coupon_id = $1 AND customer_key = $2 AND released_at IS NULL', [couponId, customerKey])) as Array<{ n: number }>;
      if ((held?.n ?? 0) >= perCustomer) return false;
    }
    await m.query('INSERT INTO coupon_redemption (coupon_id, order_id, customer_key, created_at) VALUES ($1, $2, $3, $4)', [couponId, orderId, customerKey, now]);
    return true;
  }
}
