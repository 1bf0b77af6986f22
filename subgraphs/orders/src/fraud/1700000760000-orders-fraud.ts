import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 19: the fraud check's decision per order when a rule fired (orders that passed have no
 * row): HELD (waiting for an admin), RELEASED (an admin let the charge go on), REJECTED (a rule or
 * an admin rejected it). `rule` is the reason code, `detail` the numbers that made it fire.
 */
export class OrdersFraud1700000760000 implements MigrationInterface {
  readonly name = 'OrdersFraud1700000760000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE fraud_review (
        order_id uuid PRIMARY KEY REFERENCES orders (id),
        decision text NOT NULL CHECK (decision IN ('HELD', 'RELEASED', 'REJECTED')),
        rule text NOT NULL,
        detail text NOT NULL,
        reviewed_by text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX fraud_review_held ON fraud_review (created_at) WHERE decision = 'HELD'`);
    // HELD_FOR_REVIEW joins the payment statuses. Added to whatever list the constraint has now
    // (another migration of issue 19 adds its own statuses), instead of restating the list.
    await q.query(`
      DO $$
      DECLARE def text;
      BEGIN
        SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint WHERE conrelid = 'payment'::regclass AND conname = 'payment_status_check';
        IF def IS NOT NULL AND position('HELD_FOR_REVIEW' IN def) = 0 THEN
          EXECUTE 'ALTER TABLE payment DROP CONSTRAINT payment_status_check';
          EXECUTE 'ALTER TABLE payment ADD CONSTRAINT payment_status_check ' || replace(def, 'ARRAY[', 'ARRAY[''HELD_FOR_REVIEW''::text, ');
        END IF;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE payment SET status = 'VOIDED' WHERE status = 'HELD_FOR_REVIEW'`);
    await q.query(`
      DO $$
      DECLARE def text;
      BEGIN
        SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint WHERE conrelid = 'payment'::regclass AND conname = 'payment_status_check';
        EXECUTE 'ALTER TABLE payment DROP CONSTRAINT payment_status_check';
        EXECUTE 'ALTER TABLE payment ADD CONSTRAINT payment_status_check ' || replace(def, '''HELD_FOR_REVIEW''::text, ', '');
      END $$`);
    await q.query('DROP TABLE fraud_review');
  }
}
