/**
 * Personal data in orders (issue 20): the shipping copy of each order (`ship_line1`, `ship_line2`,
 * `ship_city`, `ship_postal_code`) is stored as AES-256-GCM envelopes (the platform's PiiCipher,
 * associated data = column and order id), and erased when its customer deletes their account
 * (`users.account-erased.v1`). The country stays (tax and accounting need it, it names no one),
 * so do the amounts, lines and history; free-text cancellation reasons go (customers write names
 * in them). Rows written before encryption are encrypted by a job at start.
 *
 * Carts' shipping addresses (`cart.ship_*`) are sealed the same way (associated data = column and
 * cart id), from the first write on; a cart's country stays clear like an order's (tax rates and
 * shipping methods are chosen by it). An erased customer's carts are deleted (they name the person
 * through their owner and their address), and their coupon redemptions stop naming them: the
 * coupon's counts stay.
 */
import type { DataSource, EntityManager } from 'typeorm';
import type { BackgroundJob, Logger, PiiCipher } from '@shop/platform';
import type { OrderRow } from '../persistence/entities';
import type { ShippingAddress } from '../domain/checkout';

/** The columns of a cart row (persistence/carts.repository.ts `CartRow`) this module seals and opens. */
interface CartShippingColumns {
  readonly id: string;
  readonly shipLine1: string | null;
  readonly shipLine2: string | null;
  readonly shipCity: string | null;
  readonly shipPostalCode: string | null;
}

/** The shipping columns that name a person or a place they live, in storage order. */
const COLUMNS = ['line1', 'line2', 'city', 'postal_code'] as const;
type Column = (typeof COLUMNS)[number];

/** What an erased shipping copy shows (the columns are NOT NULL). */
export const ERASED = '';


export class ShippingPrivacy {
  constructor(private readonly cipher: PiiCipher) {}

  /** The stored (encrypted) values of an order's shipping copy, in the order line1, line2, city, postal code. */
  seal(order: Pick<OrderRow, 'id' | 'shipLine1' | 'shipLine2' | 'shipCity' | 'shipPostalCode'>): [string, string | null, string, string] {
    return [
      this.cipher.encrypt(order.shipLine1, context('line1', order.id)),
      this.cipher.encryptNullable(order.shipLine2, context('line2', order.id)),
      this.cipher.encrypt(order.shipCity, context('city', order.id)),
      this.cipher.encrypt(order.shipPostalCode, context('postal_code', order.id)),
    ];
  }

  /** The decrypted shipping address of a stored order (an erased copy shows empty strings). */
  open(order: OrderRow): ShippingAddress {
    const read = (value: string, column: Column) => (isEnvelope(value) ? this.cipher.decrypt(value, context(column, order.id)) : value);
    return {
      line1: read(order.shipLine1, 'line1'),
      line2: order.shipLine2 === null ? null : read(order.shipLine2, 'line2'),
      city: read(order.shipCity, 'city'),
      postalCode: read(order.shipPostalCode, 'postal_code'),
      country: order.shipCountry,
    };
  }

  /** Erases the personal data of every order of `userId` (in the consumer's transaction); answers how many orders. */
  async eraseCustomer(tx: EntityManager, userId: string): Promise<number> {
    const [rows] = (await tx.query(
      `UPDATE orders SET ship_line1 = $2, ship_line2 = NULL, ship_city = $2, ship_postal_code = $2, cancel_reason = NULL, customer_erased_at = now(), updated_at = now()
       WHERE user_id = $1 AND customer_erased_at IS NULL RETURNING id`,
      [userId, ERASED],
    )) as [Array<{ id: string }>, number];
    await tx.query("UPDATE order_status_change SET reason = NULL WHERE order_id IN (SELECT id FROM orders WHERE user_id = $1) AND status = 'CANCELLED'", [userId]);
    await tx.query('DELETE FROM cart WHERE owner_id = $1', [userId]); // its lines go with it (ON DELETE CASCADE)
    await tx.query("UPDATE coupon_redemption SET customer_key = 'erased' WHERE customer_key = $1", [userId]);
    return rows.length;
  }

  /** The stored value of one of a cart's shipping columns (null stays null). */
  sealCart(column: Column, cartId: string, value: string | null): string | null {
    return this.cipher.encryptNullable(value, context(column, cartId, 'cart'));
  }

  /** A stored cart with its shipping address decrypted (legacy plaintext is read as it is). */
  openCart<C extends CartShippingColumns>(cart: C): C {
    const read = (value: string | null, column: Column) => (value !== null && isEnvelope(value) ? this.cipher.decrypt(value, context(column, cart.id, 'cart')) : value);
    return { ...cart, shipLine1: read(cart.shipLine1, 'line1'), shipLine2: read(cart.shipLine2, 'line2'), shipCity: read(cart.shipCity, 'city'), shipPostalCode: read(cart.shipPostalCode, 'postal_code') };
  }

  /** Encrypts carts' shipping addresses stored in plaintext (before issue 20), `limit` per call; answers how many. */
  async encryptLegacyCarts(ds: DataSource, limit = 500): Promise<number> {
    return ds.transaction(async (tx) => {
      const legacy = (await tx.query(
        `SELECT id, ship_line1 AS "shipLine1", ship_line2 AS "shipLine2", ship_city AS "shipCity", ship_postal_code AS "shipPostalCode" FROM cart
         WHERE ship_line1 IS NOT NULL AND ship_line1 NOT LIKE 'v1:%' LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit],
      )) as CartShippingColumns[];
      for (const c of legacy) {
        await tx.query('UPDATE cart SET ship_line1 = $2, ship_line2 = $3, ship_city = $4, ship_postal_code = $5 WHERE id = $1', [
          c.id, this.sealCart('line1', c.id, c.shipLine1), this.sealCart('line2', c.id, c.shipLine2), this.sealCart('city', c.id, c.shipCity), this.sealCart('postal_code', c.id, c.shipPostalCode),
        ]);
      }
      return legacy.length;
    });
  }

  /** Encrypts shipping copies stored in plaintext (before issue 20), `limit` per call; answers how many. */
  async encryptLegacy(ds: DataSource, limit = 500): Promise<number> {
    return ds.transaction(async (tx) => {
      const legacy = (await tx.query(
        `SELECT id, ship_line1 AS "shipLine1", ship_line2 AS "shipLine2", ship_city AS "shipCity", ship_postal_code AS "shipPostalCode" FROM orders
         WHERE ship_line1 <> $2 AND ship_line1 NOT LIKE 'v1:%' LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit, ERASED],
      )) as Array<Pick<OrderRow, 'id' | 'shipLine1' | 'shipLine2' | 'shipCity' | 'shipPostalCode'>>;
      for (const o of legacy) await tx.query('UPDATE orders SET ship_line1 = $2, ship_line2 = $3, ship_city = $4, ship_postal_code = $5 WHERE id = $1', [o.id, ...this.seal(o)]);
      return legacy.length;
    });
  }

  /** The start-up job that encrypts every legacy shipping copy and cart address, in batches. */
  legacyJob(ds: DataSource, logger: Logger): BackgroundJob {
    let stopped = false;
    const done = (async () => {
      let total = 0;
      for (let n = -1; n !== 0 && !stopped; total += n) n = await this.encryptLegacy(ds);
      if (total > 0) logger.info({ orders: total }, 'encrypted shipping copies stored in plaintext');
      let carts = 0;
      for (let n = -1; n !== 0 && !stopped; carts += n) n = await this.encryptLegacyCarts(ds);
      if (carts > 0) logger.info({ carts }, 'encrypted cart addresses stored in plaintext');
    })().catch((error: unknown) => logger.error({ err: error }, 'could not encrypt plaintext shipping copies; will try at the next start'));
    return {
      stop: async () => {
        stopped = true;
        await done;
      },
    };
  }
}

/** The associated data of one value: its table, column and row (a value copied elsewhere does not decrypt). */
function context(column: Column, id: string, table: 'orders' | 'cart' = 'orders'): string {
  return `${table}.ship_${column}:${id}`;
}

/** True for a PiiCipher envelope (`v1:<keyId>:…`); false for legacy plaintext and erased copies. */
function isEnvelope(value: string): boolean {
  return value.startsWith('v1:');
}
