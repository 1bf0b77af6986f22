import { EntitySchema } from 'typeorm';
import type { Role } from '../domain/user';

/** A row of `app_user`. `phoneEnc` is an AES-256-GCM envelope (see PiiCipher). */
export interface UserRow {
  id: string;
  email: string;
  username: string;
  passwordHash: string;
  firstName: string | null;
  lastName: string | null;
  phoneEnc: string | null;
  roles: Role[];
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
    phoneEnc: { type: 'text', name: 'phone_enc', nullable: true },
    roles: { type: 'text', array: true },
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
