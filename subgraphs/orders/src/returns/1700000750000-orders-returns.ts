import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 19: returns of delivered orders and partial refunds.
 * - `payment.refund_committed`: what orders has decided to refund (a received return adds its
 *   share under the order's lock, a cancellation the whole amount); `payment.refunded_amount`: what
 *   the provider has refunded (`Payment.refundedAmount`). The CHECK makes "never more than was
 *   paid" a property of the table, whatever the code does: refunded ≤ committed ≤ amount.
 * - `order_return` and its lines; the refund of a received return is retried by a sweep
 *   (`refund_next_attempt_at`, leased with `refund_locked_until`) until the provider answers.
 */
export class OrdersReturns1700000750000 implements MigrationInterface {
  readonly name = 'OrdersReturns1700000750000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE payment ADD COLUMN refund_committed numeric(12,2) NOT NULL DEFAULT 0, ADD COLUMN refunded_amount numeric(12,2) NOT NULL DEFAULT 0`);
    await q.query(`UPDATE payment SET refund_committed = amount, refunded_amount = amount WHERE status = 'REFUNDED'`);
    await q.query(`UPDATE payment SET refund_committed = amount WHERE status = 'REFUND_PENDING'`);
    await q.query(`ALTER TABLE payment ADD CONSTRAINT payment_refunds_within_amount CHECK (refunded_amount >= 0 AND refunded_amount <= refund_committed AND refund_committed <= amount)`);
    await q.query(`
      CREATE TABLE order_return (
        id uuid PRIMARY KEY,
        order_id uuid NOT NULL REFERENCES orders (id),
        user_id text NOT NULL,
        status text NOT NULL CHECK (status IN ('REQUESTED', 'APPROVED', 'REJECTED', 'RECEIVED', 'REFUNDED')),
        reason text NOT NULL,
        rejection_reason text,
        refund_amount numeric(12,2) CHECK (refund_amount >= 0),
        refund_id text,
        refund_attempts int NOT NULL DEFAULT 0,
        refund_next_attempt_at timestamptz,
        refund_locked_until timestamptz,
        refund_last_error text,
        received_by text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    await q.query('CREATE INDEX order_return_by_order ON order_return (order_id, created_at, id)');
    await q.query(`CREATE INDEX order_return_refund_due ON order_return (refund_next_attempt_at) WHERE status = 'RECEIVED'`);
    await q.query(`
      CREATE TABLE order_return_line (
        return_id uuid NOT NULL REFERENCES order_return (id) ON DELETE CASCADE,
        product_id uuid NOT NULL,
        quantity int NOT NULL CHECK (quantity > 0),
        PRIMARY KEY (return_id, product_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE order_return_line');
    await q.query('DROP TABLE order_return');
    await q.query('ALTER TABLE payment DROP CONSTRAINT payment_refunds_within_amount, DROP COLUMN refunded_amount, DROP COLUMN refund_committed');
  }
}
