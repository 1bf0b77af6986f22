import type { Db } from './sql';
import { isUuid, row, rows } from './sql';

/** A refresh token looked up by its hash, with its session, locked for the transaction. */
export interface RefreshTokenRecord {
  readonly sessionId: string;
  readonly userId: string;
  readonly expiresAt: Date;
  readonly rotatedAt: Date | null;
  readonly sessionExpiresAt: Date;
  readonly sessionRevokedAt: Date | null;
}

/** Sessions and their refresh tokens (stored as SHA-256 hashes only). Use inside a transaction. */
export class SessionsRepository {
  constructor(private readonly db: Db) {}

  async create(sessionId: string, userId: string, expiresAt: Date): Promise<void> {
    await rows(this.db, 'INSERT INTO session (id, user_id, expires_at) VALUES ($1, $2, $3)', [sessionId, userId, expiresAt]);
  }

  async addRefreshToken(hash: Buffer, sessionId: string, expiresAt: Date): Promise<void> {
    await rows(this.db, 'INSERT INTO refresh_token (token_hash, session_id, expires_at) VALUES ($1, $2, $3)', [hash, sessionId, expiresAt]);
  }

  /** The token and its session, both locked (`FOR UPDATE`): concurrent refreshes of one token run one after the other. */
  async findRefreshTokenForUpdate(hash: Buffer): Promise<RefreshTokenRecord | null> {
    const r = await row<{ session_id: string; user_id: string; expires_at: Date; rotated_at: Date | null; session_expires_at: Date; session_revoked_at: Date | null }>(
      this.db,
      `SELECT t.session_id, s.user_id, t.expires_at, t.rotated_at, s.expires_at AS session_expires_at, s.revoked_at AS session_revoked_at
       FROM refresh_token t JOIN session s ON s.id = t.session_id
       WHERE t.token_hash = $1
       FOR UPDATE OF t, s`,
      [hash],
    );
    return r
      ? { sessionId: r.session_id, userId: r.user_id, expiresAt: r.expires_at, rotatedAt: r.rotated_at, sessionExpiresAt: r.session_expires_at, sessionRevokedAt: r.session_revoked_at }
      : null;
  }

  async markRotated(hash: Buffer, sessionId: string): Promise<void> {
    await rows(this.db, 'UPDATE refresh_token SET rotated_at = now() WHERE token_hash = $1', [hash]);
    await rows(this.db, 'UPDATE session SET refreshed_at = now() WHERE id = $1', [sessionId]);
  }

  /**
   * Revokes one session of `userId`. Answers `revoked` when it was active, `already` when it was
   * revoked before, `unknown` when there is no such session of this user.
   */
  async revoke(sessionId: string, userId: string, reason: string): Promise<'revoked' | 'already' | 'unknown'> {
    if (!isUuid(sessionId) || !isUuid(userId)) return 'unknown';
    const updated = await rows<{ id: string }>(
      this.db,
      'UPDATE session SET revoked_at = now(), revoked_reason = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id',
      [sessionId, userId, reason],
    );
    if (updated.length) return 'revoked';
    const existing = await row<{ id: string }>(this.db, 'SELECT id FROM session WHERE id = $1 AND user_id = $2', [sessionId, userId]);
    return existing ? 'already' : 'unknown';
  }

  /** Revokes every active session of a user; answers their ids. */
  async revokeAllOfUser(userId: string, reason: string): Promise<string[]> {
    const updated = await rows<{ id: string }>(
      this.db,
      'UPDATE session SET revoked_at = now(), revoked_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL RETURNING id',
      [userId, reason],
    );
    return updated.map((r) => r.id);
  }

  /** True when the session exists and is neither revoked nor past its absolute expiry. */
  async isActive(sessionId: string): Promise<boolean> {
    if (!isUuid(sessionId)) return false;
    const r = await row<{ ok: boolean }>(this.db, 'SELECT revoked_at IS NULL AND expires_at > now() AS ok FROM session WHERE id = $1', [sessionId]);
    return r?.ok ?? false;
  }

  /** Deletes what can never be used again; answers how many rows went. */
  async purgeExpired(): Promise<number> {
    // Rotated tokens are kept until they would have expired: presenting one before that is reuse.
    const tokens = await rows<{ n: number }>(this.db, "WITH d AS (DELETE FROM refresh_token WHERE expires_at < now() - interval '1 day' RETURNING 1) SELECT count(*)::int AS n FROM d");
    const sessions = await rows<{ n: number }>(this.db, "WITH d AS (DELETE FROM session WHERE expires_at < now() - interval '1 day' RETURNING 1) SELECT count(*)::int AS n FROM d");
    return (tokens[0]?.n ?? 0) + (sessions[0]?.n ?? 0);
  }
}
