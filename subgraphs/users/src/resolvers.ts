import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap';
import { isErasedUserId } from '@shop/events';
import { badUserInput, forbidden, requireAdmin, requireUser } from '@shop/platform';
import type { UsersContext } from './context';
import { canSeePrivate } from './context';
import type { Address, Role, User } from './domain/user';
import { deletedUser } from './domain/user';
import type { PreferencesInput } from './notifications/notifications.service';
import type { AccountErasureRecord } from './persistence/erasures.repository';
import type { AddressInput, AuthResult, RegisterInput, UpdateProfileInput } from './users.service';

/** Prime the loader and mark the account as the caller's own, so the payload's `user` shows its private fields. */
function own(ctx: UsersContext, result: AuthResult): AuthResult {
  ctx.ownAccounts.add(result.user.id);
  ctx.loaders.user.prime(result.user.id, result.user);
  return result;
}

/** A field only the account's owner and admins may read. */
function privateField<K extends keyof User>(field: K) {
  return (user: User, _: unknown, ctx: UsersContext): User[K] => {
    if (!canSeePrivate(ctx, user)) throw forbidden(`Only the account owner or an administrator can see ${String(field)}.`);
    return user[field];
  };
}

export const resolvers: GraphQLResolverMap<UsersContext> = {
  Query: {
    me: (_: unknown, __: unknown, ctx: UsersContext) => (ctx.identity ? ctx.loaders.user.load(ctx.identity.userId) : null),
    user: (_: unknown, { id }: { id: string }, ctx: UsersContext) => {
      requireAdmin(ctx);
      return ctx.loaders.user.load(id);
    },
    accountErasures: (_: unknown, { first }: { first: number }, ctx: UsersContext) => {
      requireAdmin(ctx);
      if (!Number.isInteger(first) || first < 0 || first > 100) throw badUserInput('first', 'first must be between 0 and 100.');
      return ctx.users.accountErasures(first);
    },
  },
  Mutation: {
    register: async (_: unknown, { input }: { input: RegisterInput }, ctx: UsersContext) => own(ctx, await ctx.users.register(input, ctx.clientAddress)),
    login: async (_: unknown, args: { email: string; password: string }, ctx: UsersContext) => own(ctx, await ctx.users.login(args.email, args.password, ctx.clientAddress)),
    refreshToken: async (_: unknown, args: { refreshToken: string }, ctx: UsersContext) => own(ctx, await ctx.users.refresh(args.refreshToken)),
    logout: (_: unknown, __: unknown, ctx: UsersContext) => ctx.users.logout(requireUser(ctx)),
    requestPasswordReset: (_: unknown, args: { email: string }, ctx: UsersContext) => ctx.users.requestPasswordReset(args.email, ctx.clientAddress),
    resetPassword: (_: unknown, args: { token: string; newPassword: string }, ctx: UsersContext) => ctx.users.resetPassword(args.token, args.newPassword, ctx.clientAddress),
    updateProfile: (_: unknown, { input }: { input: UpdateProfileInput }, ctx: UsersContext) => ctx.users.updateProfile(requireUser(ctx), input),
    addAddress: (_: unknown, { input }: { input: AddressInput }, ctx: UsersContext) => ctx.users.addAddress(requireUser(ctx), input),
    setUserRoles: (_: unknown, args: { id: string; roles: Role[] }, ctx: UsersContext) => ctx.users.setUserRoles(requireAdmin(ctx), args.id, args.roles),
    verifyEmail: (_: unknown, args: { token: string }, ctx: UsersContext) => ctx.users.verifyEmail(args.token),
    resendEmailVerification: (_: unknown, __: unknown, ctx: UsersContext) => ctx.users.resendEmailVerification(requireUser(ctx)),
    updateNotificationPreferences: (_: unknown, { input }: { input: PreferencesInput }, ctx: UsersContext) => ctx.notifications.updatePreferences(requireUser(ctx), input),
    notifyMeWhenInStock: (_: unknown, args: { productId: string }, ctx: UsersContext) => ctx.notifications.notifyMeWhenInStock(requireUser(ctx), args.productId),
    cancelStockNotification: (_: unknown, args: { productId: string }, ctx: UsersContext) => ctx.notifications.cancelStockNotification(requireUser(ctx), args.productId),
    deleteMyAccount: (_: unknown, args: { password: string }, ctx: UsersContext) => ctx.users.deleteMyAccount(requireUser(ctx), args.password, ctx.clientAddress),
  },
  AccountErasure: {
    erasedAt: (e: AccountErasureRecord) => e.requestedAt.toISOString(),
  },
  AuthPayload: {
    expiresAt: (p: AuthResult) => p.expiresAt.toISOString(),
  },
  User: {
    // Reviews of erased accounts name an anonymous id: they show the "deleted user" placeholder. So
    // does an erased account's own id (its row gone, its erasure recorded), until catalog has
    // replaced it (its consumer of the erasure may come later) or while a gateway still holds
    // catalog's answer with it: the page shows the review by a deleted user, never an error, and
    // never the old username. Any other unknown id (a guest order's) stays null, as before: orders'
    // `Order.email` requires `user { email }` and falls back to the guest's own address on null.
    __resolveReference: async (ref: { id: string }, ctx: UsersContext) => {
      if (isErasedUserId(ref.id)) return deletedUser(ref.id);
      const user = await ctx.loaders.user.load(ref.id);
      if (user) return user;
      return (await ctx.loaders.erased.load(ref.id)) ? deletedUser(ref.id) : null;
    },
    // Public: id, username, createdAt (what a review shows about its author). The rest is private.
    createdAt: (u: User) => u.createdAt.toISOString(),
    email: privateField('email'),
    firstName: privateField('firstName'),
    lastName: privateField('lastName'),
    phone: privateField('phone'),
    roles: privateField('roles'),
    emailVerified: privateField('emailVerified'),
    notificationPreferences: privateField('notificationPreferences'),
    stockNotifications: async (u: User, _: unknown, ctx: UsersContext): Promise<Array<{ id: string }>> => {
      if (!ctx.ownAccounts.has(u.id)) throw forbidden('Only the account owner can see their stock notifications.');
      return (await ctx.loaders.stockNotifications.load(u.id)).map((id) => ({ id }));
    },
    addresses: (u: User, _: unknown, ctx: UsersContext): Promise<Address[]> => {
      if (!canSeePrivate(ctx, u)) throw forbidden('Only the account owner or an administrator can see addresses.');
      return ctx.loaders.addresses.load(u.id);
    },
  },
};
