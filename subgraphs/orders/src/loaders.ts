/** DataLoaders, built per request so that nothing is cached across users: every batched lookup goes through one. */
import DataLoader from 'dataloader';
import type { OrderItemRow, OrderRow, PaymentRow, StatusChangeRow } from './persistence/entities';
import type { OrderCursor, OrderPage, OrdersRepository } from './persistence/orders.repository';

/** A `User.orders` page request: one user, the page size and the cursor. */
export interface UserOrdersKey {
  readonly userId: string;
  readonly first: number;
  readonly after: OrderCursor | null;
}

export function createLoaders(repo: OrdersRepository) {
  return {
    order: new DataLoader<string, OrderRow | null>((ids) => repo.findByIds(ids)),
    items: new DataLoader<string, OrderItemRow[]>((ids) => repo.findItemsByOrderIds(ids)),
    history: new DataLoader<string, StatusChangeRow[]>((ids) => repo.findHistoryByOrderIds(ids)),
    payment: new DataLoader<string, PaymentRow | null>((ids) => repo.findPaymentsByOrderIds(ids)),
    // Users asking for the same page shape share one query (usually all of them do).
    userOrders: new DataLoader<UserOrdersKey, OrderPage, string>(
      async (keys) => {
        const groups = new Map<string, UserOrdersKey[]>();
        for (const k of keys) {
          const shape = `${k.first}|${k.after ? `${k.after.createdAt.toISOString()}|${k.after.id}` : ''}`;
          groups.set(shape, [...(groups.get(shape) ?? []), k]);
        }
        const pages = new Map<UserOrdersKey, OrderPage>();
        await Promise.all(
          [...groups.values()].map(async (group) => {
            const { first, after } = group[0]!;
            const users = [...new Set(group.map((k) => k.userId))];
            const result = await repo.pageByUsers(users, first, after);
            const byUser = new Map(users.map((u, i) => [u, result[i]!]));
            for (const k of group) pages.set(k, byUser.get(k.userId)!);
          }),
        );
        return keys.map((k) => pages.get(k)!);
      },
      { cacheKeyFn: (k) => `${k.userId}|${k.first}|${k.after ? `${k.after.createdAt.toISOString()}|${k.after.id}` : ''}` },
    ),
  };
}
export type OrdersLoaders = ReturnType<typeof createLoaders>;
