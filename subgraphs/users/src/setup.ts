/**
 * The composition root of the users service: builds its parts once per running service from the
 * platform's deps and the users settings; the platform hands them to the context, routes,
 * consumers, background jobs and the seed.
 */
import type { BackgroundJob, ServiceDeps } from '@shop/platform';
import { every } from '@shop/platform';
import type { UsersSettings } from './config';
import { DevMailbox } from './mail/dev-mailbox';
import { MailDispatcher } from './mail/mail-dispatcher';
import type { Mailer } from './mail/mailer';
import { SmtpMailer } from './mail/smtp-mailer';
import { usersMetrics } from './metrics';
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
  /** The development mailbox; null in production. */
  readonly devMailbox: DevMailbox | null;
  /** Null when mails cannot be sent (production without SMTP_HOST: they stay queued). */
  readonly mailer: Mailer | null;
  readonly dispatcher: MailDispatcher | null;
  /** Guest orders' recipients, asked of orders (issue 18; configured by the supergraph once orders is up). */
  readonly guestContacts: GuestContacts;
}

export function setupUsers(deps: ServiceDeps, settings: UsersSettings): UsersParts {
  const production = deps.nodeEnv === 'production';
  if (!settings.PII_ENCRYPTION_KEYS) deps.logger.warn('PII_ENCRYPTION_KEYS is not set: personal data is encrypted with the published DEVELOPMENT key (never do this in production)');
  const cipher = new PiiCipher(settings.PII_ENCRYPTION_KEYS ?? DEVELOPMENT_PII_KEYS);

  const devMailbox = production ? null : new DevMailbox(settings.MAIL_FROM);
  const smtp = settings.SMTP_HOST
    ? new SmtpMailer({ host: settings.SMTP_HOST, port: settings.SMTP_PORT, secure: settings.SMTP_SECURE, user: settings.SMTP_USER, password: settings.SMTP_PASSWORD, from: settings.MAIL_FROM })
    : null;
  const mailer = smtp ? (devMailbox ? devMailbox.tee(smtp) : smtp) : (devMailbox?.asMailer() ?? null);
  if (!mailer) deps.logger.warn('SMTP_HOST is not set: mails stay queued in outgoing_mail until an SMTP server is configured');
  const dispatcher = mailer ? new MailDispatcher({ dataSource: deps.dataSource, mailer, cipher, logger: deps.logger, pollIntervalMs: settings.MAIL_POLL_INTERVAL_MS }) : null;

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
  return { deps, settings, cipher, store, service, devMailbox, mailer, dispatcher, guestContacts };
}

/** The service's background jobs: the mail dispatcher and an hourly clean-up of expired rows. */
export function usersBackground(parts: UsersParts): BackgroundJob[] {
  const jobs: BackgroundJob[] = [];
  if (parts.dispatcher) {
    const dispatcher = parts.dispatcher.start();
    const mailer = parts.mailer;
    jobs.push({ stop: async () => { await dispatcher.stop(); await mailer?.close(); } });
  }
  jobs.push(housekeeping(parts));
  return jobs;
}

/** Deletes expired sessions, refresh and reset tokens, old mails and rate-limit counters, hourly. */
function housekeeping({ deps, store }: UsersParts, intervalMs = 3600_000): BackgroundJob {
  return every('users-housekeeping', intervalMs, async () => {
    const n = await store.purgeExpired();
    if (n > 0) deps.logger.info({ rows: n }, 'purged expired sessions, tokens and mails');
  }, deps.logger);
}
