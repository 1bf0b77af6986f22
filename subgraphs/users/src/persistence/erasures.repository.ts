import type { Db } from './sql';
import { rows } from './sql';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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

  /** For each id, in the order asked, whether it is an erased account's (false for anything else, a non-uuid included). */
  async areErased(ids: readonly string[]): Promise<boolean[]> {
    const valid = [...new Set(ids.filter((id) => UUID.test(id)))];
    const found = valid.length ? await rows<{ user_id: string }>(this.db, 'SELECT user_id FROM account_erasure WHERE user_id = ANY($1::uuid[])', [valid]) : [];
    const erased = new Set(found.map((r) => r.user_id));
    return ids.map((id) => erased.has(id));
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
