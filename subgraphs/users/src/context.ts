import DataLoader from 'dataloader';
import type { RequestContext } from '@shop/platform';
import { isAdmin } from '@shop/platform';
import type { Address, User } from './domain/user';
import type { UsersParts } from './setup';
import type { NotificationsService } from './notifications/notifications.service';
import type { UsersService } from './users.service';

export interface UsersLoaders {
  readonly user: DataLoader<string, User | null>;
  readonly addresses: DataLoader<string, Address[]>;
  /** Whether an id is an erased account's (a reference to it shows the "deleted user"). */
  readonly erased: DataLoader<string, boolean>;
  /** Product ids of each user's open back-in-stock requests. */
  readonly stockNotifications: DataLoader<string, string[]>;
}

export interface UsersContext extends RequestContext {
  readonly users: UsersService;
  readonly notifications: NotificationsService;
  readonly loaders: UsersLoaders;
  /** The caller's address for rate limits (signed by the gateway, else the socket peer). */
  readonly clientAddress: string;
  /**
   * Accounts whose private fields (e-mail, phone, addresses…) this request may read: the signed-in
   * user's, plus the one an AuthPayload of this request was just issued for (register, login).
   */
  readonly ownAccounts: Set<string>;
}

/** Builds the per-request context: DataLoaders are per request, so nothing is cached across callers. */
export function createContext(base: RequestContext, { service, store, notifications }: UsersParts): UsersContext {
  const repo = store.reads;
  return {
    ...base,
    clientAddress: base.clientAddress ?? 'unknown',
    users: service,
    notifications,
    loaders: {
      user: new DataLoader((ids) => repo.findByIds(ids)),
      addresses: new DataLoader((ids) => repo.findAddressesByUserIds(ids)),
      erased: new DataLoader((ids) => store.erasureReads.areErased(ids)),
      stockNotifications: new DataLoader((ids) => notifications.waitingProducts(ids)),
    },
    ownAccounts: new Set(base.identity ? [base.identity.userId] : []),
  };
}

/** True when the caller may read the private fields of `user`. */
export function canSeePrivate(ctx: UsersContext, user: Pick<User, 'id'>): boolean {
  return ctx.ownAccounts.has(user.id) || isAdmin(ctx.identity);
}
