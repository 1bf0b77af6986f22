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
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE fraud_review');
  }
}
