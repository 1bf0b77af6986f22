/**
 * Every setting the users subgraph reads, parsed once by the platform: from the environment, or
 * from typed overrides in the embedded supergraph (the launcher passes JWT_SECRET, tests pass e.g.
 * `{ LOGIN_MAX_FAILURES: 3 }`), which win over the environment (so `SMTP_HOST=… npm start` works).
 */
import type { NodeEnv, SettingsOf } from '@shop/platform';
import { ConfigError, defineSettings, env, piiKeysSetting } from '@shop/platform';
import { z } from 'zod';

const usersShape = {
  /** HS256 key of the access tokens (shared with the gateway, which verifies them). Required, ≥ 32 characters. */
  JWT_SECRET: env.secret(32),
  /** Lifetime of an access token. Default 900 s (15 min). */
  ACCESS_TOKEN_TTL_SECONDS: env.int(900, 10),
  /** Lifetime of a refresh token; each refresh issues a new one. Default 2592000 s (30 days). */
  REFRESH_TOKEN_TTL_SECONDS: env.int(30 * 24 * 3600, 60),
  /** Absolute lifetime of a session, however often it is refreshed. Default 7776000 s (90 days). */
  SESSION_MAX_AGE_SECONDS: env.int(90 * 24 * 3600, 60),
  /** Lifetime of a password reset token. Default 1800 s (30 min). */
  PASSWORD_RESET_TTL_SECONDS: env.int(1800, 60),
  /**
   * AES-256-GCM keys of the personal data at rest (phone numbers, addresses), as
   * `keyId:base64(32 bytes)[,…]`: the first encrypts, every listed key decrypts (rotation).
   * Optional outside production, where a published development key is used (never in production).
   */
  PII_ENCRYPTION_KEYS: piiKeysSetting().optional(),
  /** SMTP server; without it, mails stay queued (production) or go to the development mailbox. */
  SMTP_HOST: z.string().min(1).optional(),
  /** SMTP port. Default 587. */
  SMTP_PORT: env.port(587),
  /** true: TLS from the first byte (port 465); false: STARTTLS when the server offers it. Default false. */
  SMTP_SECURE: env.bool(false),
  SMTP_USER: z.string().min(1).optional(),
  SMTP_PASSWORD: z.string().min(1).optional(),
  /** Sender of every mail. Default `Shop <no-reply@shop.local>`. */
  MAIL_FROM: env.string('Shop <no-reply@shop.local>'),
  /** Public URL of the shop's web app, for links in mails. Default http://localhost:4000. */
  PUBLIC_APP_URL: env.url().default('http://localhost:4000'),
  /** Standalone: the orders service's base URL, asked for guest orders' recipients over a signed request (issue 18; the embedded supergraph sets it itself). */
  ORDERS_INTERNAL_URL: env.url().optional(),
  /** How often the mail dispatcher looks for due mails (retries, other replicas' mails) when nothing woke it. Default 5000 ms. */
  MAIL_POLL_INTERVAL_MS: env.int(5_000, 10),
  /** Lifetime of an e-mail verification token. Default 172800 s (48 h). */
  EMAIL_VERIFICATION_TTL_SECONDS: env.int(48 * 3600, 60),
  /** resendEmailVerification calls per account per hour. Default 3. */
  EMAIL_VERIFICATIONS_PER_HOUR: env.int(3, 1),
  /** Twilio account SID; with TWILIO_AUTH_TOKEN and TWILIO_FROM, text messages go through Twilio. Otherwise they stay queued (production) or go to the development SMS outbox. */
  TWILIO_ACCOUNT_SID: z.string().min(1).optional(),
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  /** Sender: a Twilio number (E.164) or a Messaging Service SID (MG…). */
  TWILIO_FROM: z.string().min(1).optional(),
  /** Twilio's API base URL. Default https://api.twilio.com. */
  TWILIO_API_URL: env.url().default('https://api.twilio.com'),
  /** Notifications the dispatcher tries before dead-lettering one. Default 8. */
  NOTIFICATION_MAX_ATTEMPTS: env.int(8, 1),
  /** Delay before a notification's first retry, doubled each time up to 15 min. Default 5000 ms. */
  NOTIFICATION_RETRY_BASE_MS: env.int(5_000, 10),
  /** Back-in-stock requests turned into notifications per transaction. Default 200. */
  STOCK_NOTIFICATION_BATCH_SIZE: env.int(200, 1),
  /** Failed login attempts per account and client address before a pause. Default 5. */
  LOGIN_MAX_FAILURES: env.int(5, 1),
  /** Failed login attempts per account, from any address, before a pause. Default 20. */
  LOGIN_MAX_FAILURES_PER_ACCOUNT: env.int(20, 1),
  /** Failed login attempts per client address, for any account, before a pause. Default 50. */
  LOGIN_MAX_FAILURES_PER_ADDRESS: env.int(50, 1),
  /** Window of the failed-login counters (a pause lasts at most this long). Default 900 s. */
  LOGIN_FAILURE_WINDOW_SECONDS: env.int(900, 1),
  /** Registrations per client address per hour. Default 50. */
  REGISTRATIONS_PER_ADDRESS_PER_HOUR: env.int(50, 1),
  /** Password reset requests per account per hour (and 4× that per client address). Default 5. */
  PASSWORD_RESETS_PER_HOUR: env.int(5, 1),
  /** Admin account of the seed. Default admin@shop.local. */
  ADMIN_EMAIL: env.string('admin@shop.local'),
  /** Admin password of the seed; when unset, a random one is generated and printed once. */
  ADMIN_PASSWORD: z.string().min(10, 'must be at least 10 characters').optional(),
};

/** Rules across settings: Twilio's three settings go together; production needs its own PII keys. */
function checkUsersSettings(settings: SettingsOf<typeof usersShape>, nodeEnv: NodeEnv): void {
  if (![0, 3].includes(twilioSettingsSet(settings))) throw new ConfigError('Invalid configuration: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM go together (some are missing)');
  if (nodeEnv !== 'production') return;
  if (!settings.PII_ENCRYPTION_KEYS) throw new ConfigError('Invalid configuration: PII_ENCRYPTION_KEYS: required in production (it is not set)');
  if (/^dev:/.test(settings.PII_ENCRYPTION_KEYS)) throw new ConfigError('Invalid configuration: PII_ENCRYPTION_KEYS: the development key must not be used in production');
}

/** How many of the three Twilio settings are set (0 or 3 are valid). */
function twilioSettingsSet(settings: SettingsOf<typeof usersShape>): number {
  return [settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_FROM].filter(Boolean).length;
}

/** True when text messages go through Twilio (every TWILIO_* setting is there). */
export function twilioConfigured(settings: UsersSettings): boolean {
  return twilioSettingsSet(settings) === 3;
}

export const usersSettings = defineSettings(usersShape, checkUsersSettings);
export type UsersSettings = SettingsOf<typeof usersShape>;
