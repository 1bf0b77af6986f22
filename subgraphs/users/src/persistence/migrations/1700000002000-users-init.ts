import type { MigrationInterface, QueryRunner } from 'typeorm';

export class UsersInit1700000002000 implements MigrationInterface {
  readonly name = 'UsersInit1700000002000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE app_user (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email text NOT NULL UNIQUE CHECK (email = lower(email)),
        username text NOT NULL,
        password_hash text NOT NULL,
        first_name text,
        last_name text,
        roles text[] NOT NULL DEFAULT '{CUSTOMER}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE UNIQUE INDEX app_user_username ON app_user (lower(username))');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE app_user');
  }
}
