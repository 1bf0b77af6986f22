import { randomUUID } from 'node:crypto';
import { In } from 'typeorm';
import type { AddressDraft } from '../domain/validation';
import type { NotificationPreferences } from '../domain/notifications';
import type { Address, Credentials, Role, User } from '../domain/user';
import type { PiiCipher } from '@shop/platform';
import { AddressEntity } from './entities';
import { addressRowFromSql, piiContext, toAddress, toUser, userRowFromSql } from './mappers';
import type { Db } from './sql';
import { isUniqueViolation, isUuid, row, rows } from './sql';

/** The unique field a new or changed account collides with. */
export class DuplicateAccountError extends Error {
  override readonly name = 'DuplicateAccountError';
  constructor(readonly field: 'email' | 'username') {
    super(`${field} is taken`);
  }
}

/** What registration stores. */
export interface NewUser {
  readonly email: string;
  readonly username: string;
  readonly passwordHash: string;
  readonly firstName: string | null;
  readonly lastName: string | null;
  readonly phone: string | null;
  readonly roles?: readonly Role[];
}

/** A profile change: `undefined` leaves a field alone, `null` clears it. */
export interface ProfilePatch {
  readonly firstName?: string | null;
  readonly lastName?: string | null;
  readonly phone?: string | null;
}

/**
 * Accounts and addresses. Single-purpose queries; `findByIds` and `findAddressesByUserIds` are
 * what the DataLoaders want. Bound to the data source for reads, or to a transaction for writes.
 */
export class UsersRepository {
  constructor(
    private readonly db: Db,
    private readonly cipher: PiiCipher,
  ) {}

  /**
   * Users by id, in the order asked (null where unknown or not a uuid). Raw SQL, as findByEmail:
   * it runs for every `me` and every review author, and typeorm's query builder and hydration
   * cost more than the statement.
   */
  async findByIds(ids: readonly string[]): Promise<Array<User | null>> {
    const valid = [...new Set(ids.filter(isUuid))];
    const found = valid.length ? await rows<Record<string, unknown>>(this.db, 'SELECT * FROM app_user WHERE id = ANY($1::uuid[])', [valid]) : [];
    const byId = new Map(found.map((r) => [r['id'] as string, toUser(userRowFromSql(r), this.cipher)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** Every address of each user, default first, then oldest first. */
  async findAddressesByUserIds(userIds: readonly string[]): Promise<Address[][]> {
    const valid = [...new Set(userIds.filter(isUuid))];
    const found = valid.length
      ? await this.db.getRepository(AddressEntity).find({ where: { userId: In(valid) }, order: { isDefault: 'DESC', createdAt: 'ASC', id: 'ASC' } })
      : [];
    const byUser = new Map<string, Address[]>();
    for (const r of found) byUser.set(r.userId, [...(byUser.get(r.userId) ?? []), toAddress(r, this.cipher)]);
    return userIds.map((id) => byUser.get(id) ?? []);
  }

  async findCredentialsByEmail(email: string): Promise<Credentials | null> {
    const r = await row<{ id: string; password_hash: string }>(this.db, 'SELECT id, password_hash FROM app_user WHERE email = $1', [email]);
    return r ? { userId: r.id, passwordHash: r.password_hash } : null;
  }

  async findByEmail(email: string): Promise<User | null> {
    const r = await row<Record<string, unknown>>(this.db, 'SELECT * FROM app_user WHERE email = $1', [email]);
    return r ? toUser(userRowFromSql(r), this.cipher) : null;
  }

  /** Which of `email` and `username` another account already has (case-insensitive). */
  async takenFields(email: string, username: string): Promise<Array<'email' | 'username'>> {
    const r = await row<{ email: boolean; username: boolean }>(
      this.db,
      'SELECT EXISTS (SELECT 1 FROM app_user WHERE email = $1) AS email, EXISTS (SELECT 1 FROM app_user WHERE lower(username) = lower($2)) AS username',
      [email, username],
    );
    return (['email', 'username'] as const).filter((f) => r?.[f]);
  }

  /** Inserts an account; a concurrent duplicate surfaces as DuplicateAccountError naming the field. */
  async insert(user: NewUser): Promise<User> {
    const id = randomUUID();
    try {
      const r = await row<Record<string, unknown>>(
        this.db,
        `INSERT INTO app_user (id, email, username, password_hash, first_name_enc, last_name_enc, phone_enc, roles)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
        [
          id,
          user.email,
          user.username,
          user.passwordHash,
          this.cipher.encryptNullable(user.firstName, piiContext.firstName(id)),
          this.cipher.encryptNullable(user.lastName, piiContext.lastName(id)),
          this.cipher.encryptNullable(user.phone, piiContext.phone(id)),
          user.roles ?? ['CUSTOMER'],
        ],
      );
      return toUser(userRowFromSql(r!), this.cipher);
    } catch (error) {
      if (isUniqueViolation(error, 'app_user_email_key')) throw new DuplicateAccountError('email');
      if (isUniqueViolation(error, 'app_user_username_key')) throw new DuplicateAccountError('username');
      throw error;
    }
  }

  /**
   * Locks the account row for the rest of the transaction (password, roles and address changes
   * of one account then happen one after the other) and answers it with its password hash.
   */
  async lock(userId: string): Promise<(User & { passwordHash: string }) | null> {
    if (!isUuid(userId)) return null;
    const r = await row<Record<string, unknown>>(this.db, 'SELECT * FROM app_user WHERE id = $1 FOR UPDATE', [userId]);
    if (!r) return null;
    const userRow = userRowFromSql(r);
    return { ...toUser(userRow, this.cipher), passwordHash: userRow.passwordHash };
  }

  /**
   * True when the account still has `passwordHash`, holding a share lock until commit: a login
   * that verified the old password cannot open a session after a concurrent password reset.
   */
  async stillHasPassword(userId: string, passwordHash: string): Promise<boolean> {
    const r = await row<{ ok: boolean }>(this.db, 'SELECT password_hash = $2 AS ok FROM app_user WHERE id = $1 FOR SHARE', [userId, passwordHash]);
    return r?.ok ?? false;
  }

  async updateProfile(userId: string, patch: ProfilePatch): Promise<User> {
    const sets: string[] = [];
    const params: unknown[] = [userId];
    const set = (column: string, value: unknown): void => {
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    };
    if (patch.firstName !== undefined) set('first_name_enc', this.cipher.encryptNullable(patch.firstName, piiContext.firstName(userId)));
    if (patch.lastName !== undefined) set('last_name_enc', this.cipher.encryptNullable(patch.lastName, piiContext.lastName(userId)));
    if (patch.firstName !== undefined) sets.push('first_name = NULL');
    if (patch.lastName !== undefined) sets.push('last_name = NULL');
    if (patch.phone !== undefined) set('phone_enc', this.cipher.encryptNullable(patch.phone, piiContext.phone(userId)));
    sets.push('updated_at = now()');
    const r = await row<Record<string, unknown>>(this.db, `UPDATE app_user SET ${sets.join(', ')} WHERE id = $1 RETURNING *`, params);
    return toUser(userRowFromSql(r!), this.cipher);
  }

  async setRoles(userId: string, roles: readonly Role[]): Promise<User> {
    const r = await row<Record<string, unknown>>(this.db, 'UPDATE app_user SET roles = $2, updated_at = now() WHERE id = $1 RETURNING *', [userId, roles]);
    return toUser(userRowFromSql(r!), this.cipher);
  }

  async setPassword(userId: string, passwordHash: string): Promise<void> {
    await rows(this.db, 'UPDATE app_user SET password_hash = $2, password_changed_at = now(), updated_at = now() WHERE id = $1', [userId, passwordHash]);
  }

  async countAddresses(userId: string): Promise<number> {
    const r = await row<{ n: number }>(this.db, 'SELECT count(*)::int AS n FROM address WHERE user_id = $1', [userId]);
    return r?.n ?? 0;
  }

  /**
   * Adds an address. It becomes the default when asked, or when it is the user's first one; the
   * previous default then stops being one (one default per user, enforced by a unique index).
   * Call with the user row locked (see `lock`).
   */
  async insertAddress(userId: string, draft: AddressDraft, makeDefault: boolean): Promise<Address> {
    const id = randomUUID();
    if (makeDefault) await rows(this.db, 'UPDATE address SET is_default = false WHERE user_id = $1 AND is_default', [userId]);
    const r = await row<Record<string, unknown>>(
      this.db,
      `INSERT INTO address (id, user_id, line1_enc, line2_enc, city_enc, postal_code_enc, country, is_default)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
      [
        id,
        userId,
        this.cipher.encrypt(draft.line1, piiContext.address('line1', id)),
        this.cipher.encryptNullable(draft.line2, piiContext.address('line2', id)),
        this.cipher.encrypt(draft.city, piiContext.address('city', id)),
        this.cipher.encrypt(draft.postalCode, piiContext.address('postal_code', id)),
        draft.country,
        makeDefault,
      ],
    );
    await rows(this.db, 'UPDATE app_user SET updated_at = now() WHERE id = $1', [userId]);
    return toAddress(addressRowFromSql(r!), this.cipher);
  }

  async setPreferences(userId: string, preferences: NotificationPreferences): Promise<User> {
    const r = await row<Record<string, unknown>>(this.db, 'UPDATE app_user SET notification_prefs = $2, updated_at = now() WHERE id = $1 RETURNING *', [userId, JSON.stringify(preferences)]);
    return toUser(userRowFromSql(r!), this.cipher);
  }

  /** Marks the e-mail address verified (kept when it already was); answers the account's roles, null when it is gone. */
  async markEmailVerified(userId: string): Promise<Role[] | null> {
    const r = await row<{ roles: Role[] }>(this.db, 'UPDATE app_user SET email_verified_at = coalesce(email_verified_at, now()), updated_at = now() WHERE id = $1 RETURNING roles', [userId]);
    return r?.roles ?? null;
  }

  /**
   * Encrypts the names of rows written before names were encrypted (plaintext columns), up to
   * `limit` rows, and clears the plaintext. Answers how many rows it changed.
   */
  async encryptLegacyNames(limit: number): Promise<number> {
    const legacy = await rows<{ id: string; first_name: string | null; last_name: string | null }>(
      this.db,
      'SELECT id, first_name, last_name FROM app_user WHERE first_name IS NOT NULL OR last_name IS NOT NULL LIMIT $1 FOR UPDATE SKIP LOCKED',
      [limit],
    );
    for (const u of legacy) {
      await rows(
        this.db,
        `UPDATE app_user SET first_name_enc = coalesce(first_name_enc, $2), last_name_enc = coalesce(last_name_enc, $3), first_name = NULL, last_name = NULL WHERE id = $1`,
        [u.id, this.cipher.encryptNullable(u.first_name, piiContext.firstName(u.id)), this.cipher.encryptNullable(u.last_name, piiContext.lastName(u.id))],
      );
    }
    return legacy.length;
  }

  /**
   * Erases an account: the row and everything that cascades from it (addresses, sessions,
   * tokens, verification and stock requests). Answers false when it did not exist.
   */
  async erase(userId: string): Promise<boolean> {
    const deleted = await rows<{ id: string }>(this.db, 'DELETE FROM app_user WHERE id = $1 RETURNING id', [userId]);
    return deleted.length > 0;
  }

  async anyAdmin(): Promise<boolean> {
    const r = await row<{ any: boolean }>(this.db, "SELECT EXISTS (SELECT 1 FROM app_user WHERE 'ADMIN' = ANY (roles)) AS any");
    return r?.any ?? false;
  }
}
