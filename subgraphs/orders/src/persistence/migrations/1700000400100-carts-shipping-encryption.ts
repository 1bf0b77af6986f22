import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 20: a cart's shipping address (`cart.ship_line1`, `ship_line2`, `ship_city`,
 * `ship_postal_code`) now holds PiiCipher envelopes, like the orders' shipping copy (the columns
 * keep their names and type; `ship_country` stays clear for tax rates and shipping methods). A
 * migration has no encryption key, so rows written in plaintext before are encrypted by the
 * service's start-up job (privacy/shipping-privacy.ts, encryptLegacyCarts), as the shipping copies
 * are; this partial index holds exactly those rows, so the job finds them without scanning every
 * cart and an operator can see that none is left (`SELECT count(*) FROM cart WHERE ship_line1 NOT LIKE 'v1:%'`).
 */
export class CartsShippingEncryption1700000400100 implements MigrationInterface {
  readonly name = 'CartsShippingEncryption1700000400100';

  async up(q: QueryRunner): Promise<void> {
    await q.query("CREATE INDEX cart_ship_plaintext ON cart (id) WHERE ship_line1 IS NOT NULL AND ship_line1 NOT LIKE 'v1:%'");
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX cart_ship_plaintext');
  }
}
