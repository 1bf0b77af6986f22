import type { Db } from './sql';
import { row, rows } from './sql';

/** A single-use token (password reset, e-mail verification) looked up by its hash. */
export interface PasswordResetRecord {
  readonly id: string;
  readonly userId: string;
  readonly expiresAt: Date;
  readonly usedAt: Date | null;
}

/** The tables of single-use, expiring tokens; each has the same columns. */
export type SingleUseTokenTable = 'password_reset' | 'email_verification';

/**
 * Single-use, expiring tokens mailed to the user (SHA-256 hashes only): password resets and
 * e-mail verifications share the table layout and these queries.
 */
export class SingleUseTokensRepository {
  constructor(
    protected readonly db: Db,
    private readonly table: SingleUseTokenTable,
  ) {}

  /** Stores a new token for `userId`; earlier unused tokens of the user stop working (only the latest mail counts). */
  async create(userId: string, hash: Buffer, expiresAt: Date): Promise<string> {
    await rows(this.db, `UPDATE ${this.table} SET used_at = now() WHERE user_id = $1 AND used_at IS NULL`, [userId]);
    const r = await row<{ id: string }>(this.db, `INSERT INTO ${this.table} (user_id, token_hash, expires_at) VALUES ($1, $2, $3) RETURNING id`, [userId, hash, expiresAt]);
    return r!.id;
  }

  /** Without a lock (to validate before the transaction that redeems). */
  async find(hash: Buffer): Promise<PasswordResetRecord | null> {
    const r = await row<{ id: string; user_id: string; expires_at: Date; used_at: Date | null }>(this.db, `SELECT id, user_id, expires_at, used_at FROM ${this.table} WHERE token_hash = $1`, [hash]);
    return r ? { id: r.id, userId: r.user_id, expiresAt: r.expires_at, usedAt: r.used_at } : null;
  }

  async findForUpdate(hash: Buffer): Promise<PasswordResetRecord | null> {
    const r = await row<{ id: string; user_id: string; expires_at: Date; used_at: Date | null }>(
      this.db,
      `SELECT id, user_id, expires_at, used_at FROM ${this.table} WHERE token_hash = $1 FOR UPDATE`,
      [hash],
    );
    return r ? { id: r.id, userId: r.user_id, expiresAt: r.expires_at, usedAt: r.used_at } : null;
  }

  /** Marks every open token of the user used (the one just redeemed included). */
  async useAllOfUser(userId: string): Promise<void> {
    await rows(this.db, `UPDATE ${this.table} SET used_at = now() WHERE user_id = $1 AND used_at IS NULL`, [userId]);
  }

  async purgeExpired(): Promise<number> {
    const r = await rows<{ n: number }>(this.db, `WITH d AS (DELETE FROM ${this.table} WHERE expires_at < now() - interval '1 day' RETURNING 1) SELECT count(*)::int AS n FROM d`);
    return r[0]?.n ?? 0;
  }
}

/** Password reset tokens. */
export class PasswordResetsRepository extends SingleUseTokensRepository {
  constructor(db: Db) {
    super(db, 'password_reset');
  }
}

/** E-mail verification tokens. */
export class EmailVerificationsRepository extends SingleUseTokensRepository {
  constructor(db: Db) {
    super(db, 'email_verification');
  }
}
