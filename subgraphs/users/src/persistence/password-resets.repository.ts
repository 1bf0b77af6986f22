import type { Db } from './sql';
import { row, rows } from './sql';

/** A password reset token looked up by its hash, locked for the transaction. */
export interface PasswordResetRecord {
  readonly id: string;
  readonly userId: string;
  readonly expiresAt: Date;
  readonly usedAt: Date | null;
}

/** Single-use password reset tokens (SHA-256 hashes only). */
export class PasswordResetsRepository {
  constructor(private readonly db: Db) {}

  /** Stores a new token for `userId`; earlier unused tokens of the user stop working (only the latest mail counts). */
  async create(userId: string, hash: Buffer, expiresAt: Date): Promise<string> {
    await rows(this.db, 'UPDATE password_reset SET used_at = now() WHERE user_id = $1 AND used_at IS NULL', [userId]);
    const r = await row<{ id: string }>(this.db, 'INSERT INTO password_reset (user_id, token_hash, expires_at) VALUES ($1, $2, $3) RETURNING id', [userId, hash, expiresAt]);
    return r!.id;
  }

  /** Without a lock (to validate before the transaction that redeems). */
  async find(hash: Buffer): Promise<PasswordResetRecord | null> {
    const r = await row<{ id: string; user_id: string; expires_at: Date; used_at: Date | null }>(this.db, 'SELECT id, user_id, expires_at, used_at FROM password_reset WHERE token_hash = $1', [hash]);
    return r ? { id: r.id, userId: r.user_id, expiresAt: r.expires_at, usedAt: r.used_at } : null;
  }

  async findForUpdate(hash: Buffer): Promise<PasswordResetRecord | null> {
    const r = await row<{ id: string; user_id: string; expires_at: Date; used_at: Date | null }>(
      this.db,
      'SELECT id, user_id, expires_at, used_at FROM password_reset WHERE token_hash = $1 FOR UPDATE',
      [hash],
    );
    return r ? { id: r.id, userId: r.user_id, expiresAt: r.expires_at, usedAt: r.used_at } : null;
  }

  /** Marks every open token of the user used (the one just redeemed included). */
  async useAllOfUser(userId: string): Promise<void> {
    await rows(this.db, 'UPDATE password_reset SET used_at = now() WHERE user_id = $1 AND used_at IS NULL', [userId]);
  }

  async purgeExpired(): Promise<number> {
    const r = await rows<{ n: number }>(this.db, "WITH d AS (DELETE FROM password_reset WHERE expires_at < now() - interval '1 day' RETURNING 1) SELECT count(*)::int AS n FROM d");
    return r[0]?.n ?? 0;
  }
}
