import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 18: carts, shipping methods, tax rates, coupons and their redemptions, a stock read model
 * for cart problems, and the frozen price breakdown and guest columns of an order. Money in the new
 * tables is integer minor units (bigint cents); rates are integer parts per million.
 */
export class CartsPricing1700000300000 implements MigrationInterface {
  readonly name = 'CartsPricing1700000300000';

  async up(q: QueryRunner): Promise<void> {
    // Available stock per product, from inventory.stock-changed.v1 (cart problems; never a call).
    await q.query(`
      CREATE TABLE stock_snapshot (
        product_id uuid PRIMARY KEY,
        available int NOT NULL,
        version int NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE shipping_method (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        price_minor bigint NOT NULL CHECK (price_minor >= 0),
        free_over_minor bigint CHECK (free_over_minor >= 0),
        currency_code char(3) NOT NULL,
        estimated_days int CHECK (estimated_days BETWEEN 0 AND 365),
        countries text[] NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE tax_rate (
        country char(2) PRIMARY KEY,
        rate_ppm int NOT NULL CHECK (rate_ppm BETWEEN 0 AND 1000000),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE coupon (
        id uuid PRIMARY KEY,
        code text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('PERCENT', 'FIXED')),
        value text NOT NULL,
        percent_ppm int CHECK (percent_ppm BETWEEN 1 AND 1000000),
        fixed_minor bigint CHECK (fixed_minor > 0),
        currency_code char(3) NOT NULL,
        min_subtotal_minor bigint CHECK (min_subtotal_minor >= 0),
        valid_from timestamptz,
        valid_until timestamptz,
        max_redemptions int CHECK (max_redemptions >= 0),
        max_redemptions_per_customer int CHECK (max_redemptions_per_customer >= 0),
        -- Held redemptions (orders placed with it and not rejected or cancelled): the row lock of
        -- the conditional increment at checkout is what keeps it within max_redemptions.
        redemptions int NOT NULL DEFAULT 0 CHECK (redemptions >= 0 AND (max_redemptions IS NULL OR redemptions <= max_redemptions)),
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((kind = 'PERCENT') = (percent_ppm IS NOT NULL) AND (kind = 'FIXED') = (fixed_minor IS NOT NULL))
      )`);
    await q.query('CREATE UNIQUE INDEX coupon_code ON coupon (upper(code))');
    await q.query(`
      CREATE TABLE coupon_redemption (
        coupon_id uuid NOT NULL REFERENCES coupon (id),
        -- Checked at commit: checkout takes the redemption (locking the coupon) before it writes the order.
        order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
        customer_key text NOT NULL,
        created_at timestamptz NOT NULL,
        -- Set when the order was rejected or cancelled: the redemption was given back.
        released_at timestamptz,
        PRIMARY KEY (coupon_id, order_id)
      )`);
    await q.query('CREATE INDEX coupon_redemption_by_customer ON coupon_redemption (coupon_id, customer_key) WHERE released_at IS NULL');
    await q.query('CREATE INDEX coupon_redemption_by_order ON coupon_redemption (order_id) WHERE released_at IS NULL');
    await q.query(`
      CREATE TABLE cart (
        id text PRIMARY KEY,
        -- The signed-in owner's id (one implicit cart per user); null for a guest cart.
        owner_id text UNIQUE,
        coupon_codes text[] NOT NULL DEFAULT '{}',
        ship_line1 text,
        ship_line2 text,
        ship_city text,
        ship_postal_code text,
        ship_country char(2),
        shipping_method_id uuid REFERENCES shipping_method (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    await q.query('CREATE INDEX cart_by_activity ON cart (updated_at)');
    await q.query(`
      CREATE TABLE cart_line (
        id uuid PRIMARY KEY,
        cart_id text NOT NULL REFERENCES cart (id) ON DELETE CASCADE,
        product_id uuid NOT NULL,
        quantity int NOT NULL CHECK (quantity BETWEEN 1 AND 100),
        -- The catalog price when the line was added or last changed (PRICE_CHANGED compares it).
        unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
        currency_code char(3) NOT NULL,
        added_at timestamptz NOT NULL,
        UNIQUE (cart_id, product_id)
      )`);
    // The breakdown frozen on the order (total = subtotal - discount + shipping + tax), and guests.
    await q.query(`
      ALTER TABLE orders
        ADD COLUMN discount numeric(12, 2) NOT NULL DEFAULT 0 CHECK (discount >= 0),
        ADD COLUMN shipping numeric(12, 2) NOT NULL DEFAULT 0 CHECK (shipping >= 0),
        ADD COLUMN tax numeric(12, 2) NOT NULL DEFAULT 0 CHECK (tax >= 0),
        ADD COLUMN coupon_codes text[] NOT NULL DEFAULT '{}',
        ADD COLUMN shipping_method_id uuid,
        ADD COLUMN shipping_method_name text,
        ADD COLUMN guest boolean NOT NULL DEFAULT false,
        ADD COLUMN email_encrypted text,
        ADD COLUMN guest_token_hash text UNIQUE,
        ADD CONSTRAINT orders_breakdown CHECK (total = subtotal - discount + shipping + tax)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE orders DROP CONSTRAINT orders_breakdown, DROP COLUMN discount, DROP COLUMN shipping, DROP COLUMN tax, DROP COLUMN coupon_codes,
      DROP COLUMN shipping_method_id, DROP COLUMN shipping_method_name, DROP COLUMN guest, DROP COLUMN email_encrypted, DROP COLUMN guest_token_hash`);
    for (const t of ['cart_line', 'cart', 'coupon_redemption', 'coupon', 'tax_rate', 'shipping_method', 'stock_snapshot']) await q.query(`DROP TABLE ${t}`);
  }
}
