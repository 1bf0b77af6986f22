import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 19, payments with strong customer authentication: a payment's `next_action` (what the
 * customer must do while it is REQUIRES_ACTION), an index to find a payment by the provider's id
 * (a webhook without our metadata), and the provider events already received, by their id: a
 * webhook delivered twice is written once, so it has one effect. The status check gains
 * REQUIRES_ACTION (a later migration that changes the check again must keep it).
 */
const STATUSES_BEFORE = ['CREATED', 'PENDING', 'CAPTURED', 'DECLINED', 'VOID_PENDING', 'VOIDED', 'REFUND_PENDING', 'REFUNDED'];
const check = (statuses: readonly string[]) => `ALTER TABLE payment ADD CONSTRAINT payment_status_check CHECK (status IN (${statuses.map((s) => `'${s}'`).join(', ')}))`;

export class PaymentIntents1700000700000 implements MigrationInterface {
  readonly name = 'PaymentIntents1700000700000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE payment ADD COLUMN next_action jsonb');
    await q.query('ALTER TABLE payment DROP CONSTRAINT payment_status_check');
    await q.query(check([...STATUSES_BEFORE, 'REQUIRES_ACTION']));
    await q.query('CREATE INDEX payment_charge_id ON payment (charge_id) WHERE charge_id IS NOT NULL');
    await q.query(`CREATE TABLE payment_webhook_event (
      provider text NOT NULL,
      event_id text NOT NULL,
      type text NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (provider, event_id))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE payment_webhook_event');
    await q.query('DROP INDEX payment_charge_id');
    await q.query('ALTER TABLE payment DROP CONSTRAINT payment_status_check');
    await q.query(check(STATUSES_BEFORE));
    await q.query('ALTER TABLE payment DROP COLUMN next_action');
  }
}
