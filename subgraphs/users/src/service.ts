import path from 'node:path';
import { defineService, loadSdl } from '@shop/platform';
import { usersSettings } from './config';
import { usersConsumers } from './consumers';
import { createContext } from './context';
import { AddressEntity, UserEntity } from './persistence/entities';
import { UsersInit1700000002000 } from './persistence/migrations/1700000002000-users-init';
import { AccountsNotifications1700000400000 } from './persistence/migrations/1700000400000-accounts-notifications';
import { UsersProductNames1700000400002 } from './persistence/migrations/1700000400002-users-product-names';
import { resolvers } from './resolvers';
import { usersRoutes } from './routes';
import { seedAdmin } from './seed';
import { setupUsers, usersBackground } from './setup';

/** The users subgraph: accounts, sessions, password recovery, profiles and addresses, roles, notifications (e-mail, SMS), erasure. */
export const usersService = defineService({
  name: 'users',
  defaultPort: 4001,
  typeDefs: loadSdl(path.join(__dirname, 'schema.graphql')),
  resolvers,
  entities: [UserEntity, AddressEntity],
  migrations: [UsersInit1700000002000, AccountsNotifications1700000400000, UsersProductNames1700000400002],
  settings: usersSettings,
  setup: setupUsers,
  context: createContext,
  consumers: usersConsumers,
  routes: usersRoutes,
  background: usersBackground,
  seed: seedAdmin,
});
