import type { EntityManager } from 'typeorm';
import type { EventDefinition } from '@shop/events';
import type { ServiceDeps } from '@shop/platform';
import { afterCommit } from '@shop/platform';
import type { MailMessage } from '../mail/mailer';
import type { PiiCipher } from '@shop/platform';
import type { QueuedNotification } from './outgoing-mail.repository';
import { ErasuresRepository } from './erasures.repository';
import { OutgoingMailRepository } from './outgoing-mail.repository';
import { EmailVerificationsRepository, PasswordResetsRepository } from './password-resets.repository';
import { StockNotificationsRepository } from './stock-notifications.repository';
import { SessionsRepository } from './sessions.repository';
import { UsersRepository } from './users.repository';

/**
 * Everything one state change may touch, bound to one transaction: the repositories, the event
 * outbox and the mail outbox. The domain service works with this and never sees TypeORM.
 */
export interface UnitOfWork {
  readonly users: UsersRepository;
  readonly sessions: SessionsRepository;
  readonly passwordResets: PasswordResetsRepository;
  readonly emailVerifications: EmailVerificationsRepository;
  readonly stockNotifications: StockNotificationsRepository;
  readonly erasures: ErasuresRepository;
  /** The notification outbox itself (erasure wipes it). */
  readonly outgoing: OutgoingMailRepository;
  /** Queues an account mail (see OutgoingMailRepository.enqueue); sent after commit. */
  queueMail(dedupeKey: string, message: Omit<MailMessage, 'messageId'>): Promise<boolean>;
  /** Queues notifications of any channel (see `plan` in notifications/notifier.ts); sent after commit. Answers how many were new. */
  queueNotifications(list: readonly QueuedNotification[]): Promise<number>;
  /** Runs `fn` once this unit's transaction has committed (at once when there is none). */
  afterCommit(fn: () => void): void;
  /** Adds an event to the outbox, published after commit. */
  publish<T>(event: EventDefinition<T>, key: string, data: NoInfer<T>): Promise<void>;
}

/** Runs units of work: one transaction each, then wakes the event relay and the mail dispatcher. */
export class UsersStore {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly cipher: PiiCipher,
    private readonly onMailQueued: () => void,
  ) {}

  /** Reads outside a transaction. */
  get reads(): UsersRepository {
    return new UsersRepository(this.deps.dataSource, this.cipher);
  }

  /** Password reset reads outside a transaction. */
  get passwordResetReads(): PasswordResetsRepository {
    return new PasswordResetsRepository(this.deps.dataSource);
  }

  /** Erasure audit reads outside a transaction. */
  get erasureReads(): ErasuresRepository {
    return new ErasuresRepository(this.deps.dataSource);
  }

  /** Back-in-stock reads outside a transaction. */
  get stockNotificationReads(): StockNotificationsRepository {
    return new StockNotificationsRepository(this.deps.dataSource);
  }

  /** Deletes rows that can never be used again (expired sessions and tokens, old mails, spent rate-limit counters). */
  async purgeExpired(): Promise<number> {
    const ds = this.deps.dataSource;
    const counts = await Promise.all([
      new SessionsRepository(ds).purgeExpired(),
      new PasswordResetsRepository(ds).purgeExpired(),
      new EmailVerificationsRepository(ds).purgeExpired(),
      new OutgoingMailRepository(ds, this.cipher).purgeOld(),
    ]);
    await ds.query('DELETE FROM rate_limit WHERE expire < $1', [Date.now()]);
    return counts.reduce((a, b) => a + b, 0);
  }

  async run<T>(work: (uow: UnitOfWork) => Promise<T>): Promise<T> {
    let mailQueued = false;
    const result = await this.deps.transaction(async (tx) => {
      const uow = this.bind(tx, () => (mailQueued = true));
      return work(uow);
    });
    if (mailQueued) this.onMailQueued();
    return result;
  }

  /**
   * A unit of work inside a transaction someone else runs (an event handler's): a mail queued in
   * it wakes the dispatcher once that transaction has committed.
   */
  bind(tx: EntityManager, mailQueued: () => void = () => afterCommit(tx, this.onMailQueued)): UnitOfWork {
    const mails = new OutgoingMailRepository(tx, this.cipher);
    return {
      users: new UsersRepository(tx, this.cipher),
      sessions: new SessionsRepository(tx),
      passwordResets: new PasswordResetsRepository(tx),
      emailVerifications: new EmailVerificationsRepository(tx),
      stockNotifications: new StockNotificationsRepository(tx),
      erasures: new ErasuresRepository(tx),
      outgoing: mails,
      queueMail: async (key, message) => {
        const queued = await mails.enqueue(key, message);
        if (queued) mailQueued();
        return queued;
      },
      queueNotifications: async (list) => {
        const queued = await mails.enqueueMany(list);
        if (queued > 0) mailQueued();
        return queued;
      },
      afterCommit: (fn) => afterCommit(tx, fn),
      publish: async (event, key, data) => void (await this.deps.outbox.add(tx, event, key, data)),
    };
  }
}
