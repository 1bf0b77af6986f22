import type { Role } from '@shop/platform';
import type { NotificationPreferences } from './notifications';
import { DEFAULT_PREFERENCES } from './notifications';

export type { Role };

/** Every role, in display order. */
export const ROLES: readonly Role[] = ['CUSTOMER', 'ADMIN'];

/** A user account as the domain sees it: personal data decrypted, no password hash. */
export interface User {
  readonly id: string;
  /** Normalised (lower-case). */
  readonly email: string;
  readonly username: string;
  readonly firstName: string | null;
  readonly lastName: string | null;
  /** E.164, e.g. +14155550100. */
  readonly phone: string | null;
  readonly roles: readonly Role[];
  /** True once the owner redeemed a verification token mailed to `email`. */
  readonly emailVerified: boolean;
  readonly notificationPreferences: NotificationPreferences;
  readonly createdAt: Date;
}

/** Username every erased account shows where its content stays (reviews). */
export const DELETED_USERNAME = 'deleted user';

/** The placeholder for an erased account's id (see ERASED_USER_ID_PREFIX): public fields only mean something. */
export function deletedUser(id: string): User {
  return { id, email: '', username: DELETED_USERNAME, firstName: null, lastName: null, phone: null, roles: [], emailVerified: false, notificationPreferences: DEFAULT_PREFERENCES, createdAt: new Date(0) };
}

/** A saved address of a user (decrypted). */
export interface Address {
  readonly id: string;
  readonly userId: string;
  readonly line1: string;
  readonly line2: string | null;
  readonly city: string;
  readonly postalCode: string;
  readonly country: string;
  readonly isDefault: boolean;
  readonly createdAt: Date;
}

/** What login needs to know about an account. */
export interface Credentials {
  readonly userId: string;
  readonly passwordHash: string;
}

/** Distinct roles in display order; CUSTOMER is always kept (an admin is also a customer). */
export function normaliseRoles(roles: readonly Role[]): Role[] {
  const wanted = new Set<Role>([...roles, 'CUSTOMER']);
  return ROLES.filter((r) => wanted.has(r));
}

/** True when `next` lacks a role that `previous` had (tokens that carry the old roles must go). */
export function rolesReduced(previous: readonly Role[], next: readonly Role[]): boolean {
  return previous.some((r) => !next.includes(r));
}
