import path from 'node:path';
import type { BackgroundJob } from '@shop/platform';
import { defineService, every, loadSdl } from '@shop/platform';
import { ordersSettings } from './config';
import { ordersConsumers } from './consumers';
import { createContext } from './context';
import { FulfilmentSimulator } from './fulfilment/fulfilment-simulator';
import { sagaBacklogGauges } from './metrics';
import { ORDERS_ENTITIES } from './persistence/entities';
import { OrdersInit1700000004000 } from './persistence/migrations/1700000004000-orders-init';
import { CartsPricing1700000300000 } from './persistence/migrations/1700000300000-carts-pricing';
import { OrdersCustomerErasure1700000400001 } from './persistence/migrations/1700000400001-orders-customer-erasure';
import { CartsShippingEncryption1700000400100 } from './persistence/migrations/1700000400100-carts-shipping-encryption';
import { PaymentIntents1700000700000 } from './persistence/migrations/1700000700000-payment-intents';
import { cartResolvers } from './carts/resolvers';
import { OrdersSalesReport1700000500100 } from './reports/1700000500100-orders-sales-report';
import { OrdersSalesReportCarts1700000500200 } from './reports/1700000500200-orders-sales-report-carts';
import { OrdersFraud1700000760000 } from './fraud/1700000760000-orders-fraud';
import { fraudResolvers } from './fraud/resolvers';
import { OrdersReturns1700000750000 } from './returns/1700000750000-orders-returns';
import { returnResolvers } from './returns/resolvers';
import { resolvers } from './resolvers';
import { ordersRoutes } from './routes';
import { seedOrders } from './seed';
import type { OrdersOptions, OrdersParts } from './setup';
import { setupOrders } from './setup';
import { ordersLive, subscriptionResolvers } from './subscriptions';

/** Merges resolver maps type by type (Query, Mutation, Order… of several files). */
function mergeResolvers(...maps: Array<Record<string, object>>): Record<string, any> {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const map of maps) for (const [type, fields] of Object.entries(map)) merged[type] = { ...merged[type], ...(fields as Record<string, unknown>) };
  return merged;
}

/** The orders service's background jobs: the payment worker, the saga timeout sweeper, the saga backlog gauges and, when on, the fulfilment simulator. */
function ordersBackground({ deps, settings, payments, service, repo, transitions, privacy, carts, returns }: OrdersParts): BackgroundJob[] {
  payments.start();
  const jobs: BackgroundJob[] = [payments, every('saga-timeout', settings.SAGA_SWEEP_INTERVAL_MS, () => service.expireOverdueSagas(), deps.logger), sagaBacklogGauges(() => repo.pendingBacklog()), every('cart-expiry', settings.CART_SWEEP_INTERVAL_MS, () => carts.expireCarts(), deps.logger)];
  if (settings.FULFILMENT_SIMULATOR) {
    const simulator = new FulfilmentSimulator(deps, repo, transitions, settings.FULFILMENT_SHIP_AFTER_MS, settings.FULFILMENT_DELIVER_AFTER_MS);
    jobs.push(every('fulfilment-simulator', 1_000, () => simulator.tick(), deps.logger));
    deps.logger.info({ shipAfterMs: settings.FULFILMENT_SHIP_AFTER_MS, deliverAfterMs: settings.FULFILMENT_DELIVER_AFTER_MS }, 'fulfilment simulator on');
  }
  jobs.push(privacy.legacyJob(deps.dataSource, deps.logger));
  jobs.push(returns.sweep());
  return jobs;
}

/**
 * The orders subgraph: checkout, the saga (inventory reservation, payment, timeout), cancellation,
 * shipping. `options` swap the payment provider (tests inject failures into the sandbox).
 */
export function createOrdersService(options: OrdersOptions = {}) {
  return defineService({
    name: 'orders',
    defaultPort: 4004,
    typeDefs: loadSdl(path.join(__dirname, 'schema.graphql')),
    resolvers: mergeResolvers(resolvers, cartResolvers, returnResolvers, fraudResolvers, { Subscription: subscriptionResolvers }),
    entities: ORDERS_ENTITIES,
    migrations: [OrdersInit1700000004000, CartsPricing1700000300000, OrdersCustomerErasure1700000400001, CartsShippingEncryption1700000400100, OrdersSalesReport1700000500100, OrdersSalesReportCarts1700000500200, PaymentIntents1700000700000, OrdersReturns1700000750000, OrdersFraud1700000760000],
    settings: ordersSettings,
    // Carts and checkout hold a transaction across a dozen statements each, and the saga's consumers,
    // payment worker and outbox relay share the pool: 10 ran dry under the storefront's checkout burst.
    databasePoolMax: 20,
    setup: (deps, settings) => setupOrders(deps, settings, options),
    context: createContext,
    consumers: ordersConsumers,
    live: ordersLive,
    background: ordersBackground,
    routes: ordersRoutes,
    seed: seedOrders,
  });
}

/** The orders subgraph with the payment provider its settings name. */
export const ordersService = createOrdersService();
