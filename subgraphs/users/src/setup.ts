/**
 * The composition root of the users service: builds its parts once per running service from the
 * platform's deps and the users settings; the platform hands them to the context, routes,
 * consumers, background jobs and the seed.
 */
import type { BackgroundJob, ServiceDeps } from '@shop/platform';
import { every } from '@shop/platform';
import type { UsersSettings } from './config';
import { twilioConfigured } from './config';
import { DevMailbox } from './mail/dev-mailbox';
import type { Mailer } from './mail/mailer';
import { SmtpMailer } from './mail/smtp-mailer';
import { usersMetrics } from './metrics';
import { DevSmsOutbox } from './notifications/dev-sms-outbox';
import { NotificationDispatcher } from './notifications/dispatcher';
import { NotificationsService } from './notifications/notifications.service';
import type { SmsSender } from './notifications/sms';
import { TwilioSms } from './notifications/twilio-sms';
import { UsersStore } from './persistence/unit-of-work';
import { DEVELOPMENT_PII_KEYS, PiiCipher } from '@shop/platform';
import { GuestContacts } from './mail/guest-orders';
import { RateLimits } from './security/rate-limits';
import { AccessTokenIssuer } from './security/tokens';
import { UsersService } from './users.service';

export interface UsersParts {
  readonly deps: ServiceDeps;
  readonly settings: UsersSettings;
  readonly cipher: PiiCipher;
  readonly store: UsersStore;
  readonly service: UsersService;
  readonly notifications: NotificationsService;
  /** The development mailbox; null in production. */
  readonly devMailbox: DevMailbox | null;
  /** The development SMS outbox; null in production. */
  readonly devSmsOutbox: DevSmsOutbox | null;
  /** Null when mails cannot be sent (production without SMTP_HOST: they stay queued). */
  readonly mailer: Mailer | null;
  /** Null when text messages cannot be sent (production without TWILIO_*: they stay queued). */
  readonly sms: SmsSender | null;
  readonly dispatcher: NotificationDispatcher | null;
  /** Guest orders' recipients, asked of orders (issue 18; configured by the supergraph once orders is up). */
  readonly guestContacts: GuestContacts;
}

/**
 * Builds the users parts. Guest orders' contacts come from the orders service over a signed
 * internal request (`guestContacts`); until it is configured, guest orders notify nobody.
 */
export function setupUsers(deps: ServiceDeps, settings: UsersSettings): UsersParts {
  const production = deps.nodeEnv === 'production';
  if (!settings.PII_ENCRYPTION_KEYS) deps.logger.warn('PII_ENCRYPTION_KEYS is not set: personal data is encrypted with the published DEVELOPMENT key (never do this in production)');
  const cipher = new PiiCipher(settings.PII_ENCRYPTION_KEYS ?? DEVELOPMENT_PII_KEYS);

  const devMailbox = production ? null : new DevMailbox(settings.MAIL_FROM);
  const smtp = settings.SMTP_HOST
    ? new SmtpMailer({ host: settings.SMTP_HOST, port: settings.SMTP_PORT, secure: settings.SMTP_SECURE, user: settings.SMTP_USER, password: settings.SMTP_PASSWORD, from: settings.MAIL_FROM })
    : null;
  const mailer = smtp ? (devMailbox ? devMailbox.tee(smtp) : smtp) : (devMailbox?.asTransport() ?? null);
  if (!mailer) deps.logger.warn('SMTP_HOST is not set: mails stay queued in outgoing_mail until an SMTP server is configured');

  const devSmsOutbox = production ? null : new DevSmsOutbox();
  const twilio = twilioConfigured(settings)
    ? new TwilioSms({ accountSid: settings.TWILIO_ACCOUNT_SID!, authToken: settings.TWILIO_AUTH_TOKEN!, from: settings.TWILIO_FROM!, baseUrl: settings.TWILIO_API_URL })
    : null;
  const sms = twilio ? (devSmsOutbox ? devSmsOutbox.tee(twilio) : twilio) : (devSmsOutbox?.asTransport() ?? null);
  if (!sms) deps.logger.warn('TWILIO_* is not set: text messages stay queued in outgoing_mail until a provider is configured');

  const dispatcher =
    mailer || sms
      ? new NotificationDispatcher({
          dataSource: deps.dataSource,
          mailer,
          sms,
          cipher,
          logger: deps.logger,
          pollIntervalMs: settings.MAIL_POLL_INTERVAL_MS,
          maxAttempts: settings.NOTIFICATION_MAX_ATTEMPTS,
          retryBaseMs: settings.NOTIFICATION_RETRY_BASE_MS,
        })
      : null;

  const metrics = usersMetrics();
  const store = new UsersStore(deps, cipher, () => dispatcher?.wake());
  const service = new UsersService({
    store,
    tokens: new AccessTokenIssuer(settings.JWT_SECRET, settings.ACCESS_TOKEN_TTL_SECONDS),
    limits: new RateLimits(deps.dataSource, settings, metrics),
    settings,
    metrics,
    logger: deps.logger,
  });
  const guestContacts = new GuestContacts();
  // Standalone (k8s): orders' URL from the settings, the secret the runner reads (INTERNAL_AUTH_SECRET).
  const secret = process.env['INTERNAL_AUTH_SECRET'];
  if (settings.ORDERS_INTERNAL_URL && secret) guestContacts.useOrders(settings.ORDERS_INTERNAL_URL, secret);
  const notifications = new NotificationsService({ store, settings, metrics, logger: deps.logger, guestContacts });
  return { deps, settings, cipher, store, service, notifications, devMailbox, devSmsOutbox, mailer, sms, dispatcher, guestContacts };
}

/** The service's background jobs: the notification dispatcher, the back-in-stock batcher, the names backfill and an hourly clean-up. */
export function usersBackground(parts: UsersParts): BackgroundJob[] {
  const jobs: BackgroundJob[] = [];
  if (parts.dispatcher) {
    const dispatcher = parts.dispatcher.start();
    const { mailer, sms } = parts;
    jobs.push({
      stop: async () => {
        await dispatcher.stop();
        await mailer?.close();
        await sms?.close();
      },
    });
  }
  jobs.push(parts.notifications.start());
  jobs.push(encryptLegacyNames(parts));
  jobs.push(housekeeping(parts));
  return jobs;
}

/** Encrypts names stored in plaintext before issue 20 (in batches, at start, until none is left). */
function encryptLegacyNames({ deps, store }: UsersParts): BackgroundJob {
  let stopped = false;
  const done = (async () => {
    let total = 0;
    for (let n = -1; n !== 0 && !stopped; ) {
      n = await store.run((uow) => uow.users.encryptLegacyNames(500));
      total += n;
    }
    if (total > 0) deps.logger.info({ rows: total }, 'encrypted names stored in plaintext');
  })().catch((error: unknown) => deps.logger.error({ err: error }, 'could not encrypt names stored in plaintext; will try at the next start'));
  return {
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/** Deletes expired sessions, refresh, reset and verification tokens, old notifications and rate-limit counters, hourly. */
function housekeeping({ deps, store }: UsersParts, intervalMs = 3600_000): BackgroundJob {
  return every('users-housekeeping', intervalMs, async () => {
    const n = await store.purgeExpired();
    if (n > 0) deps.logger.info({ rows: n }, 'purged expired sessions, tokens and mails');
  }, deps.logger);
}
