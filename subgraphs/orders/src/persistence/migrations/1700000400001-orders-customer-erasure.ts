import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 20: when a customer erased their account, their orders keep amounts, lines and history
 * for accounting, without the person: `customer_erased_at` says when the shipping copy was
 * wiped. (The shipping copy's columns keep their names and now hold encrypted envelopes; rows
 * written before are encrypted by the service at start, see privacy/shipping-privacy.ts.)
 */
export class OrdersCustomerErasure1700000400001 implements MigrationInterface {
  readonly name = 'OrdersCustomerErasure1700000400001';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE orders ADD COLUMN customer_erased_at timestamptz');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE orders DROP COLUMN customer_erased_at');
  }
}
