/**
 * Row <-> domain mapping, including the encryption of personal data. The associated data of each
 * envelope names its table, column and row, so a ciphertext moved elsewhere does not decrypt.
 */
import type { PiiCipher } from '@shop/platform';
import { parsePreferences } from '../domain/notifications';
import type { Address, User } from '../domain/user';
import type { AddressRow, UserRow } from './entities';

export const piiContext = {
  phone: (userId: string) => `app_user.phone:${userId}`,
  firstName: (userId: string) => `app_user.first_name:${userId}`,
  lastName: (userId: string) => `app_user.last_name:${userId}`,
  address: (column: 'line1' | 'line2' | 'city' | 'postal_code', addressId: string) => `address.${column}:${addressId}`,
};

export function toUser(row: UserRow, cipher: PiiCipher): User {
  return {
    id: row.id,
    email: row.email,
    username: row.username,
    firstName: cipher.decryptNullable(row.firstNameEnc, piiContext.firstName(row.id)) ?? row.firstName,
    lastName: cipher.decryptNullable(row.lastNameEnc, piiContext.lastName(row.id)) ?? row.lastName,
    phone: cipher.decryptNullable(row.phoneEnc, piiContext.phone(row.id)),
    roles: row.roles,
    emailVerified: row.emailVerifiedAt !== null,
    notificationPreferences: parsePreferences(row.notificationPrefs),
    createdAt: row.createdAt,
  };
}

export function toAddress(row: AddressRow, cipher: PiiCipher): Address {
  return {
    id: row.id,
    userId: row.userId,
    line1: cipher.decrypt(row.line1Enc, piiContext.address('line1', row.id)),
    line2: cipher.decryptNullable(row.line2Enc, piiContext.address('line2', row.id)),
    city: cipher.decrypt(row.cityEnc, piiContext.address('city', row.id)),
    postalCode: cipher.decrypt(row.postalCodeEnc, piiContext.address('postal_code', row.id)),
    country: row.country.trim(),
    isDefault: row.isDefault,
    createdAt: row.createdAt,
  };
}

/** Maps a raw `SELECT * FROM app_user` row (snake_case) to the entity shape. */
export function userRowFromSql(r: Record<string, unknown>): UserRow {
  return {
    id: r['id'] as string,
    email: r['email'] as string,
    username: r['username'] as string,
    passwordHash: r['password_hash'] as string,
    firstName: (r['first_name'] as string | null) ?? null,
    lastName: (r['last_name'] as string | null) ?? null,
    firstNameEnc: (r['first_name_enc'] as string | null) ?? null,
    lastNameEnc: (r['last_name_enc'] as string | null) ?? null,
    phoneEnc: (r['phone_enc'] as string | null) ?? null,
    roles: r['roles'] as UserRow['roles'],
    emailVerifiedAt: (r['email_verified_at'] as Date | null) ?? null,
    notificationPrefs: r['notification_prefs'],
    passwordChangedAt: r['password_changed_at'] as Date,
    createdAt: r['created_at'] as Date,
    updatedAt: r['updated_at'] as Date,
  };
}

export function addressRowFromSql(r: Record<string, unknown>): AddressRow {
  return {
    id: r['id'] as string,
    userId: r['user_id'] as string,
    line1Enc: r['line1_enc'] as string,
    line2Enc: (r['line2_enc'] as string | null) ?? null,
    cityEnc: r['city_enc'] as string,
    postalCodeEnc: r['postal_code_enc'] as string,
    country: r['country'] as string,
    isDefault: r['is_default'] as boolean,
    createdAt: r['created_at'] as Date,
  };
}
