import path from 'node:path';
import { loadSdl } from '@shop/platform';
import type { ServiceDefinition } from '@shop/platform';
import type { UsersContext } from './context';
import { createContext } from './context';
import { UserEntity } from './persistence/entities';
import { UsersInit1700000002000 } from './persistence/migrations/1700000002000-users-init';
import { resolvers } from './resolvers';
import { seedAdmin } from './seed';

/** The users subgraph: accounts, sessions, profiles, roles. */
export const usersService: ServiceDefinition<UsersContext> = {
  name: 'users',
  defaultPort: 4001,
  typeDefs: loadSdl(path.join(__dirname, 'schema.graphql')),
  resolvers,
  entities: [UserEntity],
  migrations: [UsersInit1700000002000],
  context: createContext,
  seed: seedAdmin,
};
