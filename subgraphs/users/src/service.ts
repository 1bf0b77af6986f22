import path from 'node:path';
import { loadSdl } from '@shop/platform';
import type { ServiceDefinition } from '@shop/platform';
import type { UsersContext } from './context';
import { createContext } from './context';
import { usersSubscriptions } from './events/subscriptions';
import { AddressEntity, UserEntity } from './persistence/entities';
import { UsersInit1700000002000 } from './persistence/migrations/1700000002000-users-init';
import { resolvers } from './resolvers';
import { usersRoutes } from './routes';
import { seedAdmin } from './seed';
import { usersBackground } from './users.module';

/** The users subgraph: accounts, sessions, password recovery, profiles and addresses, roles, mails. */
export const usersService: ServiceDefinition<UsersContext> = {
  name: 'users',
  defaultPort: 4001,
  typeDefs: loadSdl(path.join(__dirname, 'schema.graphql')),
  resolvers,
  entities: [UserEntity, AddressEntity],
  migrations: [UsersInit1700000002000],
  context: createContext,
  consumers: usersSubscriptions,
  routes: usersRoutes,
  background: usersBackground,
  seed: seedAdmin,
};
