import { EntitySchema } from 'typeorm';
import type { Role } from '../domain/user';

/** A row of `app_user`. Every `…Enc` column is an AES-256-GCM envelope (see PiiCipher). */
export interface UserRow {
  id: string;
  email: string;
  username: string;
  passwordHash: string;
  /** Plaintext names of rows written before names were encrypted; cleared by the backfill at start. */
  firstName: string | null;
  lastName: string | null;
  firstNameEnc: string | null;
  lastNameEnc: string | null;
  phoneEnc: string | null;
  roles: Role[];
  emailVerifiedAt: Date | null;
  notificationPrefs: unknown;
  passwordChangedAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

export const UserEntity = new EntitySchema<UserRow>({
  name: 'User',
  tableName: 'app_user',
  columns: {
    id: { type: 'uuid', primary: true },
    email: { type: 'text' },
    username: { type: 'text' },
    passwordHash: { type: 'text', name: 'password_hash' },
    firstName: { type: 'text', name: 'first_name', nullable: true },
    lastName: { type: 'text', name: 'last_name', nullable: true },
    firstNameEnc: { type: 'text', name: 'first_name_enc', nullable: true },
    lastNameEnc: { type: 'text', name: 'last_name_enc', nullable: true },
    phoneEnc: { type: 'text', name: 'phone_enc', nullable: true },
    roles: { type: 'text', array: true },
    emailVerifiedAt: { type: 'timestamptz', name: 'email_verified_at', nullable: true },
    notificationPrefs: { type: 'jsonb', name: 'notification_prefs' },
    passwordChangedAt: { type: 'timestamptz', name: 'password_changed_at' },
    createdAt: { type: 'timestamptz', name: 'created_at' },
    updatedAt: { type: 'timestamptz', name: 'updated_at' },
  },
});

/** A row of `address`; every `…Enc` column is an AES-256-GCM envelope. */
export interface AddressRow {
  id: string;
  userId: string;
  line1Enc: string;
  line2Enc: string | null;
  cityEnc: string;
  postalCodeEnc: string;
  country: string;
  isDefault: boolean;
  createdAt: Date;
}

export const AddressEntity = new EntitySchema<AddressRow>({
  name: 'Address',
  tableName: 'address',
  columns: {
    id: { type: 'uuid', primary: true },
    userId: { type: 'uuid', name: 'user_id' },
    line1Enc: { type: 'text', name: 'line1_enc' },
    line2Enc: { type: 'text', name: 'line2_enc', nullable: true },
    cityEnc: { type: 'text', name: 'city_enc' },
    postalCodeEnc: { type: 'text', name: 'postal_code_enc' },
    country: { type: 'char', length: 2 },
    isDefault: { type: 'boolean', name: 'is_default' },
    createdAt: { type: 'timestamptz', name: 'created_at' },
  },
});
