/**
 * What an account can do: register, sign in, refresh, sign out, recover a password, edit the
 * profile and addresses, change roles. One place to read the rules; every state change is one
 * transaction with its events and mails (see UnitOfWork).
 */
import { randomUUID } from 'node:crypto';
import { accountErasureCause, AccountErased, SessionRevoked, sessionRevocationCause, UserRegisteredV2, UserUpdated } from '@shop/events';
import type { SessionRevocationReason } from '@shop/events';
import type { Identity, Logger } from '@shop/platform';
import { badUserInput, conflict, notFound, unauthenticated } from '@shop/platform';
import { GraphQLError } from 'graphql';
import type { UsersSettings } from './config';
import type { Address, Role, User } from './domain/user';
import { normaliseRoles, rolesReduced } from './domain/user';
import {
  MAX_ADDRESSES_PER_USER,
  normaliseEmail,
  normaliseName,
  normalisePhone,
  normaliseUsername,
  validateAddress,
  validatePassword,
} from './domain/validation';
import type { TemplateData, VerificationData } from './mail/templates';
import { render } from './mail/templates';
import type { MailTemplate } from './mail/mailer';
import { displayName } from './notifications/notifier';
import type { UsersMetrics } from './metrics';
import type { AccountErasureRecord } from './persistence/erasures.repository';
import type { UnitOfWork, UsersStore } from './persistence/unit-of-work';
import { DuplicateAccountError } from './persistence/users.repository';
import type { ProfilePatch } from './persistence/users.repository';
import { hashPassword, needsRehash, verifyAgainstDummy, verifyPassword } from './security/password';
import type { RateLimits } from './security/rate-limits';
import type { AccessTokenIssuer } from './security/tokens';
import { opaqueToken, tokenHash } from './security/tokens';

/** What register, login and refreshToken answer (the AuthPayload). */
export interface AuthResult {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresAt: Date;
  readonly user: User;
}

export interface RegisterInput {
  readonly email?: string | null;
  readonly username?: string | null;
  readonly password?: string | null;
  readonly firstName?: string | null;
  readonly lastName?: string | null;
  readonly phone?: string | null;
}

/** The AddressInput of the schema. */
export type AddressInput = Parameters<typeof validateAddress>[0];

export interface UpdateProfileInput {
  readonly firstName?: string | null;
  readonly lastName?: string | null;
  readonly phone?: string | null;
}

export interface UsersServiceDeps {
  readonly store: UsersStore;
  readonly tokens: AccessTokenIssuer;
  readonly limits: RateLimits;
  readonly settings: UsersSettings;
  readonly metrics: UsersMetrics;
  readonly logger: Logger;
}

const WRONG_CREDENTIALS = 'Wrong e-mail or password.';

export class UsersService {
  constructor(private readonly deps: UsersServiceDeps) {}

  /**
   * Creates a CUSTOMER account and signs it in. Every field is validated first (BAD_USER_INPUT
   * naming it); a taken e-mail or username answers CONFLICT with `extensions.field`. Queues the
   * welcome mail and publishes `users.user-registered.v1` in the same transaction.
   */
  async register(input: RegisterInput, clientAddress: string): Promise<AuthResult> {
    const { limits, metrics, store } = this.deps;
    let draft;
    try {
      const email = normaliseEmail(input.email, 'input.email');
      const username = normaliseUsername(input.username, 'input.username');
      const password = validatePassword(input.password, 'input.password', { email, username });
      draft = {
        email,
        username,
        password,
        firstName: normaliseName(input.firstName, 'input.firstName', 'First name'),
        lastName: normaliseName(input.lastName, 'input.lastName', 'Last name'),
        phone: normalisePhone(input.phone, 'input.phone'),
      };
    } catch (error) {
      metrics.registrations.inc({ outcome: 'invalid' });
      throw error;
    }
    try {
      await limits.consumeRegistration(clientAddress);
    } catch (error) {
      metrics.registrations.inc({ outcome: 'rate_limited' });
      throw error;
    }
    // Checked before hashing (the slow part) so that a taken name answers at once; the unique
    // indexes catch a concurrent registration of the same name below.
    const taken = await store.reads.takenFields(draft.email, draft.username);
    if (taken[0]) throw this.duplicate(taken[0]);
    const passwordHash = await hashPassword(draft.password);
    let created;
    try {
      created = await store.run(async (uow) => {
        const user = await uow.users.insert({ ...draft, passwordHash });
        // Ids only: the event log outlives an erasure (see AccountErased).
        await uow.publish(UserRegisteredV2, user.id, { userId: user.id, createdAt: user.createdAt.toISOString() });
        const verification = await this.newVerification(uow, user.id);
        await this.queueMail(uow, `welcome:${user.id}`, user, 'welcome', { name: displayName(user), username: user.username, appUrl: this.deps.settings.PUBLIC_APP_URL, ...verification });
        const session = await this.openSession(uow, user.id);
        return { user, ...session };
      });
    } catch (error) {
      if (error instanceof DuplicateAccountError) throw this.duplicate(error.field);
      throw error;
    }
    metrics.registrations.inc({ outcome: 'created' });
    return this.authResult(created.user, created.sessionId, created.refreshToken);
  }

  /**
   * Signs in with e-mail (case-insensitive) and password. Wrong e-mail and wrong password get the
   * same answer in about the same time; failures count towards the login limits (RATE_LIMITED).
   */
  async login(emailInput: string, password: string, clientAddress: string): Promise<AuthResult> {
    const { limits, metrics, store } = this.deps;
    let email: string;
    try {
      email = normaliseEmail(emailInput, 'email');
      if (!password) throw badUserInput('password', 'Password is required.');
    } catch (error) {
      metrics.logins.inc({ outcome: 'failure', reason: 'invalid_input' });
      throw error;
    }
    try {
      await limits.checkLogin(email, clientAddress);
    } catch (error) {
      metrics.logins.inc({ outcome: 'failure', reason: 'rate_limited' });
      throw error;
    }
    const credentials = await store.reads.findCredentialsByEmail(email);
    const valid = credentials ? await verifyPassword(credentials.passwordHash, password) : await verifyAgainstDummy(password);
    if (!credentials || !valid) {
      await limits.recordLoginFailure(email, clientAddress);
      metrics.logins.inc({ outcome: 'failure', reason: credentials ? 'wrong_password' : 'unknown_account' });
      throw unauthenticated(WRONG_CREDENTIALS);
    }
    await limits.recordLoginSuccess(email, clientAddress);
    const rehashed = needsRehash(credentials.passwordHash) ? await hashPassword(password) : null;
    const signedIn = await store.run(async (uow) => {
      // A concurrent password reset wins: the password just verified may be the old one.
      if (!(await uow.users.stillHasPassword(credentials.userId, credentials.passwordHash))) return null;
      if (rehashed) await uow.users.setPassword(credentials.userId, rehashed);
      const [user] = await uow.users.findByIds([credentials.userId]);
      return user ? { user, ...(await this.openSession(uow, user.id)) } : null;
    });
    if (!signedIn) {
      metrics.logins.inc({ outcome: 'failure', reason: 'wrong_password' });
      throw unauthenticated(WRONG_CREDENTIALS);
    }
    metrics.logins.inc({ outcome: 'success', reason: 'ok' });
    return this.authResult(signedIn.user, signedIn.sessionId, signedIn.refreshToken);
  }

  /**
   * Rotates a refresh token: the presented one is used up and a new pair is issued for the same
   * session, with the account's current roles. Presenting a token that was already rotated means
   * it was copied: the whole session (its token family) is revoked and the gateway told at once.
   */
  async refresh(refreshToken: string): Promise<AuthResult> {
    const { metrics, store, settings } = this.deps;
    const hash = tokenHash(refreshToken ?? '');
    const outcome = await store.run(async (uow) => {
      const record = await uow.sessions.findRefreshTokenForUpdate(hash);
      if (!record) return { kind: 'unknown' as const };
      if (record.sessionRevokedAt) return { kind: 'revoked' as const };
      if (record.rotatedAt) {
        await this.revokeSessions(uow, record.userId, [record.sessionId], 'refresh-token-reuse', sessionRevocationCause(refreshToken));
        return { kind: 'reused' as const };
      }
      const now = new Date();
      if (record.expiresAt <= now || record.sessionExpiresAt <= now) return { kind: 'expired' as const };
      const [user] = await uow.users.findByIds([record.userId]);
      if (!user) return { kind: 'unknown' as const };
      await uow.sessions.markRotated(hash, record.sessionId);
      const next = opaqueToken('rt');
      const expiresAt = new Date(Math.min(now.getTime() + settings.REFRESH_TOKEN_TTL_SECONDS * 1000, record.sessionExpiresAt.getTime()));
      await uow.sessions.addRefreshToken(tokenHash(next), record.sessionId, expiresAt);
      return { kind: 'rotated' as const, user, sessionId: record.sessionId, refreshToken: next };
    });
    metrics.refreshes.inc({ outcome: outcome.kind });
    switch (outcome.kind) {
      case 'rotated':
        return this.authResult(outcome.user, outcome.sessionId, outcome.refreshToken);
      case 'reused':
        throw new GraphQLError('This refresh token was already used: the session has been signed out everywhere for safety. Please sign in again.', {
          extensions: { code: 'UNAUTHENTICATED', reason: 'REFRESH_TOKEN_REUSED' },
        });
      case 'expired':
        throw unauthenticated('Your session has expired. Please sign in again.');
      default:
        throw unauthenticated('Invalid refresh token. Please sign in again.');
    }
  }

  /**
   * Revokes the caller's session (its refresh tokens stop working here, its access tokens at the
   * gateway). Idempotent. Sessions this service does not know (tokens minted elsewhere with the
   * shared key) are announced as revoked all the same.
   */
  async logout(identity: Identity): Promise<boolean> {
    await this.deps.store.run(async (uow) => {
      const state = await uow.sessions.revoke(identity.sessionId, identity.userId, 'logout');
      if (state !== 'already') await this.announceRevocation(uow, identity.userId, [identity.sessionId], 'logout', undefined, identity.exp * 1000);
    });
    return true;
  }

  /**
   * Always answers true, whether or not the account exists (no account enumeration); when it
   * does, e-mails a single-use reset token valid for PASSWORD_RESET_TTL_SECONDS (default 30 min).
   * A newer request makes earlier tokens of the account invalid.
   */
  async requestPasswordReset(emailInput: string, clientAddress: string): Promise<true> {
    const { limits, metrics, store, settings } = this.deps;
    const email = normaliseEmail(emailInput, 'email');
    await limits.consumeResetRequest(email, clientAddress);
    metrics.passwordResets.inc({ stage: 'requested' });
    const user = await store.reads.findByEmail(email);
    if (!user) return true;
    const token = opaqueToken('pr');
    await store.run(async (uow) => {
      const resetId = await uow.passwordResets.create(user.id, tokenHash(token), new Date(Date.now() + settings.PASSWORD_RESET_TTL_SECONDS * 1000));
      const resetUrl = new URL('/reset-password', settings.PUBLIC_APP_URL);
      resetUrl.searchParams.set('token', token);
      await this.queueMail(uow, `password-reset:${resetId}`, user, 'password-reset', {
        name: displayName(user),
        token,
        resetUrl: resetUrl.toString(),
        expiresInMinutes: Math.round(settings.PASSWORD_RESET_TTL_SECONDS / 60),
      });
    });
    return true;
  }

  /**
   * Sets a new password with a reset token from the mail. The token works once and expires; every
   * session of the account is revoked (all devices signed out) and a notice is mailed.
   */
  async resetPassword(token: string, newPassword: string, clientAddress: string): Promise<true> {
    const { limits, metrics, store } = this.deps;
    await limits.checkResetAttempt(clientAddress);
    if (!token) throw badUserInput('token', 'Reset token is required.');
    const hash = tokenHash(token);
    const invalid = async (): Promise<never> => {
      await limits.recordResetFailure(clientAddress);
      metrics.passwordResets.inc({ stage: 'invalid_token' });
      throw badUserInput('token', 'This reset token is invalid, used or expired. Please ask for a new one.');
    };
    // Validate before redeeming, so that a weak password does not use up the token.
    const pending = await store.passwordResetReads.find(hash);
    if (!pending || pending.usedAt || pending.expiresAt <= new Date()) return invalid();
    const [owner] = await store.reads.findByIds([pending.userId]);
    if (!owner) return invalid();
    validatePassword(newPassword, 'newPassword', owner);
    const passwordHash = await hashPassword(newPassword);
    const done = await store.run(async (uow) => {
      const reset = await uow.passwordResets.findForUpdate(hash);
      if (!reset || reset.usedAt || reset.expiresAt <= new Date()) return false; // redeemed concurrently
      const user = await uow.users.lock(reset.userId);
      if (!user) return false;
      await uow.users.setPassword(user.id, passwordHash);
      await uow.passwordResets.useAllOfUser(user.id);
      const sessionIds = await uow.sessions.revokeAllOfUser(user.id, 'password-reset');
      await this.announceRevocation(uow, user.id, sessionIds, 'password-reset', sessionRevocationCause(token));
      await this.queueMail(uow, `password-changed:${reset.id}`, user, 'password-changed', { name: displayName(user), appUrl: this.deps.settings.PUBLIC_APP_URL });
      return true;
    });
    if (!done) return invalid();
    await limits.clearAccount(owner.email);
    metrics.passwordResets.inc({ stage: 'completed' });
    return true;
  }

  /** Changes first name, last name and phone; an omitted field stays, null or "" clears it. */
  async updateProfile(identity: Identity, input: UpdateProfileInput): Promise<User> {
    const patch: { -readonly [K in keyof ProfilePatch]: ProfilePatch[K] } = {};
    if (input.firstName !== undefined) patch.firstName = normaliseName(input.firstName, 'input.firstName', 'First name');
    if (input.lastName !== undefined) patch.lastName = normaliseName(input.lastName, 'input.lastName', 'Last name');
    if (input.phone !== undefined) patch.phone = normalisePhone(input.phone, 'input.phone');
    return this.deps.store.run(async (uow) => {
      const current = await uow.users.lock(identity.userId);
      if (!current) throw notFound('User', identity.userId);
      const user = await uow.users.updateProfile(current.id, patch);
      const changed = (Object.keys(patch) as Array<keyof ProfilePatch>).filter((k) => current[k] !== user[k]);
      if (changed.length) await uow.publish(UserUpdated, user.id, { userId: user.id, roles: [...user.roles], changed });
      return user;
    });
  }

  /** Saves an address (at most 20 per account); the first one, or one marked so, becomes the default. */
  async addAddress(identity: Identity, input: AddressInput): Promise<Address> {
    const draft = validateAddress(input, 'input');
    return this.deps.store.run(async (uow) => {
      const user = await uow.users.lock(identity.userId);
      if (!user) throw notFound('User', identity.userId);
      const count = await uow.users.countAddresses(user.id);
      if (count >= MAX_ADDRESSES_PER_USER) throw badUserInput('input', `An account can keep at most ${MAX_ADDRESSES_PER_USER} addresses.`);
      const address = await uow.users.insertAddress(user.id, draft, draft.isDefault || count === 0);
      await uow.publish(UserUpdated, user.id, { userId: user.id, roles: [...user.roles], changed: ['addresses'] });
      return address;
    });
  }

  /**
   * ADMIN: replaces a user's roles (CUSTOMER is always kept). Taking a role away revokes the user's
   * sessions, so tokens that still carry it stop working at once; a new role applies from the
   * next sign-in or token refresh. An admin cannot remove their own ADMIN role (no lock-out).
   */
  async setUserRoles(admin: Identity, userId: string, rolesInput: readonly Role[]): Promise<User> {
    if (rolesInput.length === 0) throw badUserInput('roles', 'At least one role is required.');
    const roles = normaliseRoles(rolesInput);
    if (userId === admin.userId && !roles.includes('ADMIN')) throw badUserInput('roles', 'You cannot remove your own ADMIN role.');
    return this.deps.store.run(async (uow) => {
      const current = await uow.users.lock(userId);
      if (!current) throw notFound('User', userId);
      if (sameRoles(current.roles, roles)) return current;
      const user = await uow.users.setRoles(userId, roles);
      await uow.publish(UserUpdated, user.id, { userId: user.id, roles: [...user.roles], changed: ['roles'] });
      if (rolesReduced(current.roles, roles)) {
        const sessionIds = await uow.sessions.revokeAllOfUser(user.id, 'roles-reduced');
        if (sessionIds.length) await this.announceRevocation(uow, user.id, sessionIds, 'roles-reduced');
      }
      return user;
    });
  }

  /**
   * Verifies the account's e-mail address with a token from a verification mail: once, before
   * it expires (EMAIL_VERIFICATION_TTL_SECONDS, default 48 h); a used, replaced, expired or unknown
   * token answers BAD_USER_INPUT (field `token`). Needs no sign-in: the token is the proof.
   */
  async verifyEmail(token: string): Promise<true> {
    const { metrics, store } = this.deps;
    if (!token) throw badUserInput('token', 'Verification token is required.');
    const done = await store.run(async (uow) => {
      const record = await uow.emailVerifications.findForUpdate(tokenHash(token));
      if (!record || record.usedAt || record.expiresAt <= new Date()) return false;
      await uow.emailVerifications.useAllOfUser(record.userId);
      const roles = await uow.users.markEmailVerified(record.userId);
      if (roles) await uow.publish(UserUpdated, record.userId, { userId: record.userId, roles: [...roles], changed: ['emailVerified'] });
      return true;
    });
    metrics.emailVerifications.inc({ stage: done ? 'verified' : 'invalid_token' });
    if (!done) throw badUserInput('token', 'This verification token is invalid, used or expired. Please ask for a new one.');
    return true;
  }

  /**
   * Mails a new verification token (earlier ones stop working); EMAIL_VERIFICATIONS_PER_HOUR per
   * account (default 3), then RATE_LIMITED. True without a mail when the address is already verified.
   */
  async resendEmailVerification(identity: Identity): Promise<true> {
    const { limits, metrics, store } = this.deps;
    const [user] = await store.reads.findByIds([identity.userId]);
    if (!user) throw notFound('User', identity.userId);
    if (user.emailVerified) return true;
    await limits.consumeVerificationRequest(user.id);
    await store.run(async (uow) => {
      const verification = await this.newVerification(uow, user.id);
      await this.queueMail(uow, `email-verification:${verification.id}`, user, 'email-verification', { name: displayName(user), ...verification });
    });
    metrics.emailVerifications.inc({ stage: 'requested' });
    return true;
  }

  /**
   * Erases the caller's account for good, after checking the password (UNAUTHENTICATED when
   * wrong): every session is revoked at once, the row and everything hanging from it (addresses,
   * tokens, back-in-stock requests) deleted, queued notifications wiped, an audit row without
   * personal data written, and `users.account-erased.v1` published so that every other service
   * erases its copies (orders: shipping copies; catalog: review authorship).
   */
  async deleteMyAccount(identity: Identity, password: string, clientAddress: string): Promise<true> {
    const { limits, metrics, store } = this.deps;
    if (!password) throw badUserInput('password', 'Password is required.');
    const [user] = await store.reads.findByIds([identity.userId]);
    if (!user) throw unauthenticated('Wrong password.');
    // Wrong passwords count like failed logins: a stolen access token cannot guess the password here.
    await limits.checkLogin(user.email, clientAddress);
    const credentials = await store.reads.findCredentialsByEmail(user.email);
    if (!credentials || !(await verifyPassword(credentials.passwordHash, password))) {
      await limits.recordLoginFailure(user.email, clientAddress);
      throw unauthenticated('Wrong password.');
    }
    const erased = await store.run(async (uow) => {
      const locked = await uow.users.lock(identity.userId);
      if (!locked || locked.passwordHash !== credentials.passwordHash) return false; // erased or password changed meanwhile
      const sessionIds = await uow.sessions.revokeAllOfUser(locked.id, 'account-erased');
      // Also the caller's own session when this service did not issue it (a token minted elsewhere with the shared key).
      const all = sessionIds.includes(identity.sessionId) ? sessionIds : [...sessionIds, identity.sessionId];
      // The cause lets the gateway carrying this mutation wait until every session is on its deny list.
      await this.announceRevocation(uow, locked.id, all, 'account-erased', sessionRevocationCause(accountErasureCause(locked.id)), identity.exp * 1000);
      await uow.outgoing.wipeFor(locked.id);
      await uow.users.erase(locked.id);
      await uow.erasures.record(locked.id, all.length);
      await uow.publish(AccountErased, locked.id, { userId: locked.id, erasedAt: new Date().toISOString() });
      return true;
    });
    if (!erased) throw unauthenticated('Wrong password.');
    metrics.accountsErased.inc();
    return true;
  }

  /** ADMIN: the audit of erased accounts, newest first. */
  accountErasures(limit: number): Promise<AccountErasureRecord[]> {
    return this.deps.store.erasureReads.list(limit);
  }

  /** A new verification token for `userId` (earlier ones stop working), as the mail shows it. */
  private async newVerification(uow: UnitOfWork, userId: string): Promise<VerificationData & { id: string }> {
    const { settings } = this.deps;
    const token = opaqueToken('ev');
    const id = await uow.emailVerifications.create(userId, tokenHash(token), new Date(Date.now() + settings.EMAIL_VERIFICATION_TTL_SECONDS * 1000));
    const verifyUrl = new URL('/verify-email', settings.PUBLIC_APP_URL);
    verifyUrl.searchParams.set('token', token);
    return { id, token, verifyUrl: verifyUrl.toString(), expiresInHours: Math.round(settings.EMAIL_VERIFICATION_TTL_SECONDS / 3600) };
  }

  /** Queues an account mail; the key carries the account id (erasure finds the row by it). */
  private async queueMail<T extends MailTemplate>(uow: UnitOfWork, key: string, to: User, template: T, data: TemplateData[T]): Promise<boolean> {
    return uow.queueMail(key.endsWith(to.id) ? key : `${key}:${to.id}`, { to: to.email, template, ...render(template, data) });
  }

  /** A new session with its first refresh token (the access token is signed after commit). */
  private async openSession(uow: UnitOfWork, userId: string): Promise<{ sessionId: string; refreshToken: string }> {
    const { settings } = this.deps;
    const now = Date.now();
    const sessionId = randomUUID();
    const sessionExpiresAt = new Date(now + settings.SESSION_MAX_AGE_SECONDS * 1000);
    const refreshToken = opaqueToken('rt');
    await uow.sessions.create(sessionId, userId, sessionExpiresAt);
    await uow.sessions.addRefreshToken(tokenHash(refreshToken), sessionId, new Date(Math.min(now + settings.REFRESH_TOKEN_TTL_SECONDS * 1000, sessionExpiresAt.getTime())));
    return { sessionId, refreshToken };
  }

  private async authResult(user: User, sessionId: string, refreshToken: string): Promise<AuthResult> {
    const access = await this.deps.tokens.issue({ userId: user.id, roles: user.roles, sessionId });
    return { accessToken: access.token, refreshToken, expiresAt: access.expiresAt, user };
  }

  private async revokeSessions(uow: UnitOfWork, userId: string, sessionIds: string[], reason: SessionRevocationReason, cause?: string): Promise<void> {
    for (const id of sessionIds) await uow.sessions.revoke(id, userId, reason);
    await this.announceRevocation(uow, userId, sessionIds, reason, cause);
  }

  /**
   * Publishes `users.session-revoked.v1`. The deny list keeps the sessions until the last access
   * token they may have (issued up to now) expires; `tokenExpiresAtMs` extends that for a token
   * that lives longer than ours (minted elsewhere with the shared key).
   */
  private async announceRevocation(uow: UnitOfWork, userId: string, sessionIds: string[], reason: SessionRevocationReason, cause?: string, tokenExpiresAtMs = 0): Promise<void> {
    const now = new Date();
    const expiresAt = new Date(Math.max(this.deps.tokens.lastValidAt(now).getTime(), tokenExpiresAtMs + 1000));
    await uow.publish(SessionRevoked, userId, { userId, sessionIds, reason, revokedAt: now.toISOString(), expiresAt: expiresAt.toISOString(), ...(cause ? { cause } : {}) });
    if (sessionIds.length) this.deps.metrics.sessionsRevoked.inc({ reason }, sessionIds.length);
  }

  private duplicate(field: 'email' | 'username'): GraphQLError {
    this.deps.metrics.registrations.inc({ outcome: 'conflict' });
    return field === 'email'
      ? conflict('An account with this e-mail address already exists.', { field: 'input.email' })
      : conflict('This username is taken; please choose another one.', { field: 'input.username' });
  }
}

function sameRoles(a: readonly Role[], b: readonly Role[]): boolean {
  return a.length === b.length && a.every((r) => b.includes(r));
}
