import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { rateLimited } from '@shop/platform';
import type { UsersSettings } from '../config';
import type { UsersMetrics } from '../metrics';

/**
 * Brute-force and abuse limits (rate-limiter-flexible on the users database, so every replica
 * shares the counters). Keys are hashes: the table holds no e-mail addresses or IP addresses.
 *
 * Logins: failures are counted per account and client address (LOGIN_MAX_FAILURES, default 5),
 * per account from anywhere (default 20, against distributed guessing) and per address for any
 * account (default 50, against credential stuffing), each over LOGIN_FAILURE_WINDOW_SECONDS
 * (default 15 min). When a counter is full, every attempt it covers answers RATE_LIMITED with
 * `retryAfterSeconds` until the window ends, even with the right password, so guessing stays
 * useless; nothing locks an account for longer than one window. A successful login clears the
 * account-and-address counter; a password reset clears the account's counters.
 */
export class RateLimits {
  private readonly loginByAccountAndAddress: RateLimiterPostgres;
  private readonly loginByAccount: RateLimiterPostgres;
  private readonly loginByAddress: RateLimiterPostgres;
  private readonly registrationsByAddress: RateLimiterPostgres;
  private readonly resetRequestsByAccount: RateLimiterPostgres;
  private readonly resetRequestsByAddress: RateLimiterPostgres;
  private readonly resetFailuresByAddress: RateLimiterPostgres;
  private readonly verificationsByAccount: RateLimiterPostgres;

  constructor(
    dataSource: DataSource,
    settings: UsersSettings,
    private readonly metrics: UsersMetrics,
  ) {
    const limiter = (keyPrefix: string, points: number, duration: number) =>
      new RateLimiterPostgres({
        storeClient: dataSource,
        storeType: 'typeorm',
        tableName: 'rate_limit',
        tableCreated: true, // by the users migration, never at runtime
        clearExpiredByTimeout: false, // the housekeeping job does it (see purgeExpired)
        keyPrefix,
        points,
        duration,
      });
    const window = settings.LOGIN_FAILURE_WINDOW_SECONDS;
    this.loginByAccountAndAddress = limiter('login_fail_account_address', settings.LOGIN_MAX_FAILURES, window);
    this.loginByAccount = limiter('login_fail_account', settings.LOGIN_MAX_FAILURES_PER_ACCOUNT, window);
    this.loginByAddress = limiter('login_fail_address', settings.LOGIN_MAX_FAILURES_PER_ADDRESS, window);
    this.registrationsByAddress = limiter('register_address', settings.REGISTRATIONS_PER_ADDRESS_PER_HOUR, 3600);
    this.resetRequestsByAccount = limiter('reset_request_account', settings.PASSWORD_RESETS_PER_HOUR, 3600);
    this.resetRequestsByAddress = limiter('reset_request_address', settings.PASSWORD_RESETS_PER_HOUR * 4, 3600);
    this.resetFailuresByAddress = limiter('reset_fail_address', settings.LOGIN_MAX_FAILURES_PER_ADDRESS, window);
    this.verificationsByAccount = limiter('verification_account', settings.EMAIL_VERIFICATIONS_PER_HOUR, 3600);
  }

  /** resendEmailVerification: EMAIL_VERIFICATIONS_PER_HOUR per account (default 3). */
  async consumeVerificationRequest(userId: string): Promise<void> {
    await this.consume(this.verificationsByAccount, hashKey('account', userId), 'email_verification');
  }

  /** Throws RATE_LIMITED when a login from `address` to `account` (a normalised e-mail) must wait. */
  async checkLogin(account: string, address: string): Promise<void> {
    const keys = loginKeys(account, address);
    const states = await Promise.all([this.loginByAccountAndAddress.get(keys.accountAddress), this.loginByAccount.get(keys.account), this.loginByAddress.get(keys.address)]);
    const limits = [this.loginByAccountAndAddress.points, this.loginByAccount.points, this.loginByAddress.points];
    const waits = states.flatMap((s, i) => (s && s.consumedPoints >= limits[i]! ? [s.msBeforeNext] : []));
    if (waits.length) this.refuse('login', Math.max(...waits));
  }

  async recordLoginFailure(account: string, address: string): Promise<void> {
    const keys = loginKeys(account, address);
    await Promise.all([consumeQuietly(this.loginByAccountAndAddress, keys.accountAddress), consumeQuietly(this.loginByAccount, keys.account), consumeQuietly(this.loginByAddress, keys.address)]);
  }

  async recordLoginSuccess(account: string, address: string): Promise<void> {
    await this.loginByAccountAndAddress.delete(loginKeys(account, address).accountAddress);
  }

  /** After a password reset the owner has proven control of the mailbox: their failures are forgiven. */
  async clearAccount(account: string): Promise<void> {
    await this.loginByAccount.delete(hashKey('account', account));
  }

  async consumeRegistration(address: string): Promise<void> {
    await this.consume(this.registrationsByAddress, hashKey('address', address), 'register');
  }

  /** Applies to every requested e-mail, existing or not, so the answer tells nothing about accounts. */
  async consumeResetRequest(account: string, address: string): Promise<void> {
    await this.consume(this.resetRequestsByAddress, hashKey('address', address), 'password_reset');
    await this.consume(this.resetRequestsByAccount, hashKey('account', account), 'password_reset');
  }

  async checkResetAttempt(address: string): Promise<void> {
    const state = await this.resetFailuresByAddress.get(hashKey('address', address));
    if (state && state.consumedPoints >= this.resetFailuresByAddress.points) this.refuse('password_reset', state.msBeforeNext);
  }

  async recordResetFailure(address: string): Promise<void> {
    await consumeQuietly(this.resetFailuresByAddress, hashKey('address', address));
  }

  private async consume(limiter: RateLimiterPostgres, key: string, limit: string): Promise<void> {
    try {
      await limiter.consume(key);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) this.refuse(limit, rejection.msBeforeNext);
      throw rejection;
    }
  }

  private refuse(limit: string, msBeforeNext: number): never {
    this.metrics.rateLimited.inc({ limit });
    throw rateLimited(msBeforeNext / 1000);
  }
}

function loginKeys(account: string, address: string) {
  return { accountAddress: hashKey('account-address', `${account}\n${address}`), account: hashKey('account', account), address: hashKey('address', address) };
}

function hashKey(kind: string, value: string): string {
  return createHash('sha256').update(`${kind}:${value}`).digest('base64url');
}

/** Counts one more; a full counter rejects with a RateLimiterRes, which is fine here (the next check refuses). */
async function consumeQuietly(limiter: RateLimiterPostgres, key: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (rejection) {
    if (!(rejection instanceof RateLimiterRes)) throw rejection;
  }
}
