import { createHash } from 'node:crypto';
import { z } from 'zod';
import { defineEvent } from './definition';
import { id, timestamp } from './common';

/** Every user event, keyed by user id. No secrets and no password hashes, ever. */
export const USERS_USER_TOPIC = 'users.user';
/** Session events, keyed by user id (in order per user). The gateway's revocation list follows it. */
export const USERS_SESSION_TOPIC = 'users.session';

/**
 * @deprecated no longer published (it carried e-mail and username into the event log, which
 * outlives an account's erasure): see UserRegisteredV2. Kept so that old logs still parse.
 */
export const UserRegistered = defineEvent('users.user-registered.v1', USERS_USER_TOPIC, z.object({ userId: id, email: z.string(), username: z.string(), createdAt: timestamp }));
/** A new account. Ids only: a consumer that needs contact data asks the users service. */
export const UserRegisteredV2 = defineEvent('users.user-registered.v2', USERS_USER_TOPIC, z.object({ userId: id, createdAt: timestamp }));
/**
 * An account was erased (deleteMyAccount): every service deletes or anonymises what it holds
 * about `userId` (orders' shipping copies, catalog's review authorship), keeping what accounting
 * needs without the person. Cannot be undone.
 */
export const AccountErased = defineEvent('users.account-erased.v1', USERS_USER_TOPIC, z.object({ userId: id, erasedAt: timestamp }));

/**
 * What a service writes instead of an erased user's id where content stays (catalog's reviews):
 * `deleted-user:<random uuid>`, a different one per row, so the rows of one person cannot be
 * linked again. The users subgraph resolves such an id to the "deleted user" placeholder.
 */
export const ERASED_USER_ID_PREFIX = 'deleted-user:';

/** True for an id written in place of an erased user's. */
export function isErasedUserId(userId: string): boolean {
  return userId.startsWith(ERASED_USER_ID_PREFIX);
}
export const UserUpdated = defineEvent(
  'users.user-updated.v1',
  USERS_USER_TOPIC,
  z.object({
    userId: id,
    roles: z.array(z.enum(['CUSTOMER', 'ADMIN'])),
    /** Names of the fields that changed (`firstName`, `phone`, `addresses`, `roles`…), never their values. */
    changed: z.array(z.string()).optional(),
  }),
);

/** Why sessions were revoked (bounded: also a metric label). */
export const SESSION_REVOCATION_REASONS = ['logout', 'password-reset', 'refresh-token-reuse', 'roles-reduced', 'account-erased'] as const;
export type SessionRevocationReason = (typeof SESSION_REVOCATION_REASONS)[number];

/**
 * Sessions whose access tokens must stop working. Consumers keep a deny list of `sessionIds`
 * until `expiresAt`, after which no access token of these sessions can still be valid.
 */
export const SessionRevoked = defineEvent(
  'users.session-revoked.v1',
  USERS_SESSION_TOPIC,
  z.object({
    userId: id,
    /** May be empty (the user had no active session): still published, so the gateway can confirm the `cause`. */
    sessionIds: z.array(id),
    reason: z.enum(SESSION_REVOCATION_REASONS),
    revokedAt: timestamp,
    /** When the last access token of these sessions expires (ISO-8601); the deny list entry can go after. */
    expiresAt: timestamp,
    /**
     * Digest of the credential that caused the revocation (a reset or refresh token), so that the
     * gateway can hold the answer of the mutation that presented it until its deny list has the
     * revocation. Hex SHA-256 of `revocation-cause:<token>`; reveals nothing about the token.
     */
    cause: z.string().optional(),
  }),
);

/** What `sessionRevocationCause` digests for the revocations of an account's erasure. */
export function accountErasureCause(userId: string): string {
  return `account-erased:${userId}`;
}

/**
 * The `cause` of a SessionRevoked event caused by presenting `token` (a password reset token or a
 * reused refresh token): users computes it when revoking, the gateway when it saw the mutation.
 */
export function sessionRevocationCause(token: string): string {
  return createHash('sha256').update(`revocation-cause:${token}`, 'utf8').digest('hex');
}
