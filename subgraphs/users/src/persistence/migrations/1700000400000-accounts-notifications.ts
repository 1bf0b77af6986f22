import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 20: e-mail verification, notification preferences, the SMS channel of the notification
 * outbox (`outgoing_mail` now holds every notification: `channel` says which transport), back-in-
 * stock requests, names encrypted at rest, and the audit of erased accounts.
 */
export class AccountsNotifications1700000400000 implements MigrationInterface {
  readonly name = 'AccountsNotifications1700000400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE app_user ADD COLUMN email_verified_at timestamptz');
    // Per category, the channels a user wants; marketing is empty until the user opts in.
    await q.query(`ALTER TABLE app_user ADD COLUMN notification_prefs jsonb NOT NULL DEFAULT '{"orderUpdates":["EMAIL"],"backInStock":["EMAIL"],"marketing":[]}'`);
    // Names join the encrypted columns; rows written before this migration are encrypted by the
    // service at start (it has the key, SQL has not) and their plaintext cleared.
    await q.query('ALTER TABLE app_user ADD COLUMN first_name_enc text, ADD COLUMN last_name_enc text');

    await q.query(`
      CREATE TABLE email_verification (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
        token_hash bytea NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at timestamptz
      )`);
    await q.query('CREATE INDEX email_verification_user_open ON email_verification (user_id) WHERE used_at IS NULL');

    await q.query(`ALTER TABLE outgoing_mail ADD COLUMN channel text NOT NULL DEFAULT 'EMAIL' CHECK (channel IN ('EMAIL', 'SMS'))`);
    await q.query(`ALTER TABLE outgoing_mail ADD COLUMN category text NOT NULL DEFAULT 'account'`);
    await q.query('DROP INDEX outgoing_mail_due');
    await q.query("CREATE INDEX outgoing_mail_due ON outgoing_mail (channel, next_attempt_at, id) WHERE status = 'pending'");

    // One row per user and product: waiting → triggered (stock went from 0 to above 0; the batcher
    // has not queued its messages yet) → notified; or cancelled. Asking again re-opens it.
    await q.query(`
      CREATE TABLE stock_notification (
        user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
        product_id uuid NOT NULL,
        status text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'triggered', 'notified', 'cancelled')),
        created_at timestamptz NOT NULL DEFAULT now(),
        triggered_at timestamptz,
        notified_at timestamptz,
        PRIMARY KEY (user_id, product_id)
      )`);
    await q.query("CREATE INDEX stock_notification_waiting ON stock_notification (product_id) WHERE status = 'waiting'");
    await q.query("CREATE INDEX stock_notification_triggered ON stock_notification (triggered_at) WHERE status = 'triggered'");
    await q.query("CREATE INDEX stock_notification_user ON stock_notification (user_id, created_at) WHERE status = 'waiting'");

    // The last available stock users saw per product (from inventory.stock-changed.v1), to detect 0 → > 0.
    await q.query('CREATE TABLE stock_seen (product_id uuid PRIMARY KEY, available int NOT NULL, version int NOT NULL)');

    // What an admin may see about an erased account: that it happened and when; no personal data.
    await q.query(`
      CREATE TABLE account_erasure (
        user_id uuid PRIMARY KEY,
        requested_at timestamptz NOT NULL DEFAULT now(),
        sessions_revoked int NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['account_erasure', 'stock_seen', 'stock_notification', 'email_verification']) await q.query(`DROP TABLE ${table}`);
    await q.query('DROP INDEX outgoing_mail_due');
    await q.query('ALTER TABLE outgoing_mail DROP COLUMN channel, DROP COLUMN category');
    await q.query("CREATE INDEX outgoing_mail_due ON outgoing_mail (next_attempt_at, id) WHERE status = 'pending'");
    await q.query('ALTER TABLE app_user DROP COLUMN email_verified_at, DROP COLUMN notification_prefs, DROP COLUMN first_name_enc, DROP COLUMN last_name_enc');
  }
}
