import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The users schema. Personal data columns ending in `_enc` hold AES-256-GCM envelopes
 * (`v1:<keyId>:<nonce|ciphertext|tag>`, see PiiCipher), never plaintext. Tokens are stored as
 * SHA-256 hashes only.
 */
export class UsersInit1700000002000 implements MigrationInterface {
  readonly name = 'UsersInit1700000002000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE app_user (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email text NOT NULL CHECK (email = lower(email)),
        username text NOT NULL,
        password_hash text NOT NULL,
        first_name text,
        last_name text,
        phone_enc text,
        roles text[] NOT NULL DEFAULT '{CUSTOMER}' CHECK (cardinality(roles) > 0 AND roles <@ '{CUSTOMER,ADMIN}'),
        password_changed_at timestamptz NOT NULL DEFAULT now(),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT app_user_email_key UNIQUE (email)
      )`);
    await q.query('CREATE UNIQUE INDEX app_user_username_key ON app_user (lower(username))');

    await q.query(`
      CREATE TABLE address (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
        line1_enc text NOT NULL,
        line2_enc text,
        city_enc text NOT NULL,
        postal_code_enc text NOT NULL,
        country char(2) NOT NULL,
        is_default boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX address_user ON address (user_id, created_at, id)');
    await q.query('CREATE UNIQUE INDEX address_one_default ON address (user_id) WHERE is_default');

    // A session is what an access token's `sid` names; its refresh tokens form one rotation family.
    await q.query(`
      CREATE TABLE session (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        refreshed_at timestamptz,
        revoked_at timestamptz,
        revoked_reason text
      )`);
    await q.query('CREATE INDEX session_user_active ON session (user_id) WHERE revoked_at IS NULL');
    await q.query('CREATE INDEX session_expires ON session (expires_at)');

    // Rotated tokens are kept (rotated_at set) until they expire: presenting one again is reuse.
    await q.query(`
      CREATE TABLE refresh_token (
        token_hash bytea PRIMARY KEY,
        session_id uuid NOT NULL REFERENCES session (id) ON DELETE CASCADE,
        issued_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        rotated_at timestamptz
      )`);
    await q.query('CREATE INDEX refresh_token_session ON refresh_token (session_id)');
    await q.query('CREATE INDEX refresh_token_expires ON refresh_token (expires_at)');

    await q.query(`
      CREATE TABLE password_reset (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
        token_hash bytea NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at timestamptz
      )`);
    await q.query('CREATE INDEX password_reset_user_open ON password_reset (user_id) WHERE used_at IS NULL');

    // The mail outbox: written in the transaction of the change that causes the mail; the
    // dispatcher sends it. `dedupe_key` makes a second request for the same mail a no-op; the
    // encrypted payload is wiped once sent.
    await q.query(`
      CREATE TABLE outgoing_mail (
        id bigserial PRIMARY KEY,
        dedupe_key text NOT NULL UNIQUE,
        template text NOT NULL,
        payload_enc text,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
        attempts int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz
      )`);
    await q.query("CREATE INDEX outgoing_mail_due ON outgoing_mail (next_attempt_at, id) WHERE status = 'pending'");

    // rate-limiter-flexible's Postgres store (its own layout; keys are hashed, never e-mails or addresses).
    await q.query(`
      CREATE TABLE rate_limit (
        key varchar(255) PRIMARY KEY,
        points integer NOT NULL DEFAULT 0,
        expire bigint
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['rate_limit', 'outgoing_mail', 'password_reset', 'refresh_token', 'session', 'address', 'app_user']) await q.query(`DROP TABLE ${table}`);
  }
}
