/**
 * What users are told and how they choose: notification preferences, back-in-stock requests,
 * and the notifications of order events. Every message goes through `plan` (notifier.ts) into the
 * notification outbox, delivered by the NotificationDispatcher.
 */
import { isGuestOwner } from '@shop/events';
import type { Identity, Logger } from '@shop/platform';
import { badUserInput, notFound, PollingLoop } from '@shop/platform';
import type { BackgroundJob } from '@shop/platform';
import type { UsersSettings } from '../config';
import type { NotificationChannel, NotificationPreferences, NotificationRecipient, PreferenceCategory } from '../domain/notifications';
import { mergePreferences } from '../domain/notifications';
import type { NotificationTemplate } from '../mail/mailer';
import type { UsersMetrics } from '../metrics';
import type { UnitOfWork, UsersStore } from '../persistence/unit-of-work';
import { isUuid } from '../persistence/sql';
import type { GuestContactLookup, Notification } from './notifier';
import { guestRecipient, plan, userRecipient } from './notifier';

/** The NotificationPreferencesInput of the schema. */
export type PreferencesInput = { readonly [C in PreferenceCategory]?: readonly NotificationChannel[] | null };

/** What an order notification needs to find its recipient: the owner, or the guest order's contact. */
export interface OrderRef {
  readonly orderId: string;
  /** Null or `guest:<cart id>` for a guest order (its contact comes from the GuestContactLookup). */
  readonly userId?: string | null;
}

export interface NotificationsServiceDeps {
  readonly store: UsersStore;
  readonly settings: UsersSettings;
  readonly metrics: UsersMetrics;
  readonly logger: Logger;
  /** The contact of guest orders; absent: guest orders notify nobody. */
  readonly guestContacts?: GuestContactLookup | null;
}

export class NotificationsService {
  private readonly batcher: PollingLoop;

  constructor(private readonly deps: NotificationsServiceDeps) {
    this.batcher = new PollingLoop({
      tick: async () => void (await this.notifyTriggered()),
      intervalMs: 1_000,
      onError: (error, failures) => deps.logger.warn({ err: error, failures }, 'back-in-stock batcher could not run; will retry'),
    });
  }

  /** Replaces the channels of the categories given (signed in); the rest stay. */
  async updatePreferences(identity: Identity, input: PreferencesInput): Promise<NotificationPreferences> {
    return this.deps.store.run(async (uow) => {
      const user = await uow.users.lock(identity.userId);
      if (!user) throw notFound('User', identity.userId);
      return (await uow.users.setPreferences(user.id, mergePreferences(user.notificationPreferences, input))).notificationPreferences;
    });
  }

  /**
   * Asks for one message when the product's available stock goes from 0 to above 0 (on the
   * user's backInStock channels). Idempotent while a request is open; NOT_FOUND for a product
   * inventory never announced.
   */
  async notifyMeWhenInStock(identity: Identity, productId: string): Promise<boolean> {
    if (!isUuid(productId)) throw badUserInput('productId', 'Not a product id.');
    return this.deps.store.run(async (uow) => {
      if (!(await uow.stockNotifications.knowsProduct(productId))) throw notFound('Product', productId);
      const user = await uow.users.lock(identity.userId);
      if (!user) throw notFound('User', identity.userId);
      if (await uow.stockNotifications.request(user.id, productId)) this.deps.metrics.stockNotifications.inc({ stage: 'requested' });
      return true;
    });
  }

  /** Cancels the caller's open request for the product; false when there was none. */
  async cancelStockNotification(identity: Identity, productId: string): Promise<boolean> {
    if (!isUuid(productId)) throw badUserInput('productId', 'Not a product id.');
    return this.deps.store.run((uow) => uow.stockNotifications.cancel(identity.userId, productId));
  }

  /**
   * inventory.stock-changed.v1, in the consumer's transaction: when available stock went from 0
   * to above 0, every waiting request for the product becomes triggered in one statement; the
   * batcher queues the messages afterwards, so the stock stream never waits for thousands of them.
   */
  async onStockLevel(uow: UnitOfWork, productId: string, available: number, version: number): Promise<number> {
    if (!isUuid(productId)) return 0;
    if (!(await uow.stockNotifications.observe(productId, available, version))) return 0;
    const triggered = await uow.stockNotifications.trigger(productId);
    if (triggered > 0) {
      this.deps.metrics.stockNotifications.inc({ stage: 'triggered' }, triggered);
      uow.afterCommit(() => this.batcher.wake());
    }
    return triggered;
  }

  /**
   * Turns triggered requests into notifications, STOCK_NOTIFICATION_BATCH_SIZE per transaction
   * (one insert of outbox rows, one update of the requests); answers how many requests it fulfilled.
   */
  async notifyTriggered(): Promise<number> {
    const size = this.deps.settings.STOCK_NOTIFICATION_BATCH_SIZE;
    let total = 0;
    for (;;) {
      const done = await this.deps.store.run(async (uow) => {
        const claimed = await uow.stockNotifications.claimTriggered(size);
        if (claimed.length === 0) return 0;
        const users = await uow.users.findByIds(claimed.map((r) => r.userId));
        const names = await uow.stockNotifications.productNames(claimed.map((r) => r.productId));
        const rows = claimed.flatMap((r, i) => {
          const user = users[i];
          return user ? plan(userRecipient(user), this.backInStock(r.productId, names.get(r.productId) ?? null, r.createdAt)) : [];
        });
        await uow.queueNotifications(rows);
        await uow.stockNotifications.markNotified(claimed);
        return claimed.length;
      });
      total += done;
      if (done > 0) this.deps.metrics.stockNotifications.inc({ stage: 'notified' }, done);
      if (done < size) return total;
    }
  }

  /**
   * Queues an order notification for the order's owner (or the guest's contact), on the
   * recipient's orderUpdates channels. Unknown users (tests mint tokens for random ones; erased
   * accounts) are skipped. Answers how many messages were queued.
   */
  async notifyOrder<T extends NotificationTemplate>(uow: UnitOfWork, order: OrderRef, n: Omit<Notification<T>, 'category' | 'key'>): Promise<number> {
    const recipient = await this.orderRecipient(uow, order);
    if (!recipient) {
      this.deps.logger.debug({ orderId: order.orderId, template: n.template }, 'order notification skipped: no recipient');
      return 0;
    }
    return uow.queueNotifications(plan(recipient, { ...n, category: 'orderUpdates', key: `${n.template}:${order.orderId}` }));
  }

  /** The open back-in-stock requests of each user (for the DataLoader). */
  waitingProducts(userIds: readonly string[]): Promise<string[][]> {
    return this.deps.store.stockNotificationReads.waitingByUserIds(userIds);
  }

  private async orderRecipient(uow: UnitOfWork, order: OrderRef): Promise<NotificationRecipient | null> {
    if (order.userId && !isGuestOwner(order.userId)) {
      const [user] = await uow.users.findByIds([order.userId]);
      return user ? userRecipient(user) : null;
    }
    const contact = await this.deps.guestContacts?.find(order.orderId);
    return contact ? guestRecipient(contact) : null;
  }

  private backInStock(productId: string, productName: string | null, requestedAt: Date): Notification<'back-in-stock'> {
    const productUrl = new URL(`/products/${productId}`, this.deps.settings.PUBLIC_APP_URL).toString();
    return { category: 'backInStock', template: 'back-in-stock', key: `back-in-stock:${productId}:${requestedAt.getTime()}`, data: (name) => ({ name, productName, productUrl }) };
  }

  /** The batcher, as a background job (it also runs at start, for requests triggered before a crash). */
  start(): BackgroundJob {
    this.batcher.start();
    return { stop: () => this.batcher.stop() };
  }
}
