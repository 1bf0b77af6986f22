import type { Db } from './sql';
import { rows } from './sql';

/** The audit of an erased account: its (now meaningless) id and when; never personal data. */
export interface AccountErasureRecord {
  readonly userId: string;
  readonly requestedAt: Date;
  readonly sessionsRevoked: number;
}

/** `account_erasure`: what an admin can see about erasures (kept for as long as the shop keeps audit records). */
export class ErasuresRepository {
  constructor(private readonly db: Db) {}

  async record(userId: string, sessionsRevoked: number): Promise<void> {
    await rows(this.db, 'INSERT INTO account_erasure (user_id, sessions_revoked) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING', [userId, sessionsRevoked]);
  }

  /** Newest first. */
  async list(limit: number): Promise<AccountErasureRecord[]> {
    const found = await rows<{ user_id: string; requested_at: Date; sessions_revoked: number }>(
      this.db,
      'SELECT user_id, requested_at, sessions_revoked FROM account_erasure ORDER BY requested_at DESC, user_id LIMIT $1',
      [limit],
    );
    return found.map((r) => ({ userId: r.user_id, requestedAt: r.requested_at, sessionsRevoked: r.sessions_revoked }));
  }
}
