import path from 'node:path';
import { loadSdl } from '@shop/platform';
import type { ServiceDefinition } from '@shop/platform';
import { ordersConsumers } from './events/subscriptions';
import { OrdersInit1700000004000 } from './persistence/migrations/1700000004000-orders-init';
import { resolvers } from './resolvers';

/** The orders subgraph: checkout, the saga, cancellation, shipping. */
export const ordersService: ServiceDefinition = {
  name: 'orders',
  defaultPort: 4004,
  typeDefs: loadSdl(path.join(__dirname, 'schema.graphql')),
  resolvers,
  entities: [],
  migrations: [OrdersInit1700000004000],
  consumers: ordersConsumers,
};
