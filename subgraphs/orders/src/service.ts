import path from 'node:path';
import { loadSdl } from '@shop/platform';
import type { BackgroundJob, ServiceDefinition } from '@shop/platform';
import type { OrdersContext } from './context';
import { contextFactory } from './context';
import { ordersConsumers } from './events/subscriptions';
import { FulfilmentSimulator } from './fulfilment/fulfilment-simulator';
import { ORDERS_ENTITIES } from './persistence/entities';
import { OrdersInit1700000004000 } from './persistence/migrations/1700000004000-orders-init';
import { resolvers } from './resolvers';
import { attachSubscriptions, subscriptionResolvers } from './subscriptions';
import type { OrdersRuntimeOptions } from './runtime';
import { runtimeFor } from './runtime';
import { periodicJob } from './saga/periodic-job';

/**
 * The orders subgraph: checkout, the saga (inventory reservation, payment, timeout), cancellation,
 * shipping. `options` swap the payment provider (tests inject failures into the sandbox).
 */
export function createOrdersService(options: OrdersRuntimeOptions = {}): ServiceDefinition<OrdersContext> {
  return {
    name: 'orders',
    defaultPort: 4004,
    typeDefs: loadSdl(path.join(__dirname, 'schema.graphql')),
    resolvers: { ...resolvers, Subscription: subscriptionResolvers },
    entities: ORDERS_ENTITIES,
    migrations: [OrdersInit1700000004000],
    context: contextFactory(options),
    attach: attachSubscriptions(contextFactory(options)),
    consumers: (deps) => ordersConsumers(runtimeFor(deps, options)),
    background: (deps) => {
      const runtime = runtimeFor(deps, options);
      const { settings } = runtime;
      runtime.payments.start();
      const jobs: BackgroundJob[] = [
        runtime.payments,
        periodicJob('saga-timeout', settings.SAGA_SWEEP_INTERVAL_MS, () => runtime.service.expireOverdueSagas(), deps.logger),
      ];
      if (settings.FULFILMENT_SIMULATOR) {
        const simulator = new FulfilmentSimulator(deps, runtime.repo, runtime.transitions, settings.FULFILMENT_SHIP_AFTER_MS, settings.FULFILMENT_DELIVER_AFTER_MS);
        jobs.push(periodicJob('fulfilment-simulator', 1_000, () => simulator.tick(), deps.logger));
        deps.logger.info({ shipAfterMs: settings.FULFILMENT_SHIP_AFTER_MS, deliverAfterMs: settings.FULFILMENT_DELIVER_AFTER_MS }, 'fulfilment simulator on');
      }
      return jobs;
    },
  };
}

/** The orders subgraph with the payment provider its settings name. */
export const ordersService: ServiceDefinition<OrdersContext> = createOrdersService();
