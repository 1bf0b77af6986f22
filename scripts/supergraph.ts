/**
 * The composition root of the whole shop: starts the four subgraphs (each on its own port with its
 * own database, talking to the others only over HTTP and the event bus) and the gateway in front
 * of them, in one process. `npm start` (start.ts) and the e2e tests start the shop through it.
 */
import type { EventBus, Logger, PartsOf, TlsClientOptions, RunningService, ServiceDefinition, SettingsOverrides, SettingsShapeOf } from '@shop/platform';
import { createLogger, ensureDatabase, startService } from '@shop/platform';
import { catalogService } from '@shop/catalog';
import { inventoryService } from '@shop/inventory';
import { ordersService } from '@shop/orders';
import { usersService } from '@shop/users';
import type { GatewaySettings, RunningGateway } from '@shop/gateway';
import { jwtVerifier, SessionRevocations, startGateway } from '@shop/gateway';
import { attachSubscriptions } from '@shop/gateway/subscriptions';
import { runDemoShoppers } from './demo-shoppers';

/** Every subgraph by name, in start order (users first: its seed prints the admin credentials before the rest of the start-up noise). */
const SERVICES = { users: usersService, catalog: catalogService, inventory: inventoryService, orders: ordersService };
type Services = typeof SERVICES;
export type ServiceName = keyof Services;
export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];

/** Typed settings of each service (they win over the environment variables of the same names). */
export type ServiceSettings = { readonly [N in ServiceName]?: SettingsOverrides<SettingsShapeOf<Services[N]>> };
/** The running services, with their typed parts. */
export type RunningServices = { readonly [N in ServiceName]: RunningService<PartsOf<Services[N]>> };

export interface SupergraphOptions {
  /** postgres:// URL of each service's own database (created when missing). */
  readonly databaseUrl: (service: ServiceName) => string;
  /** TLS to those databases (`postgresTls(settings)`); default none. */
  readonly databaseTls?: TlsClientOptions | undefined;
  readonly bus: EventBus;
  /** Gateway port (default 4000; 0 = any free port). */
  readonly gatewayPort?: number;
  /** Subgraph ports (default 4001..4004; 0 = any free port). */
  readonly servicePorts?: Partial<Record<ServiceName, number>>;
  readonly internalAuthSecret: string;
  readonly jwtSecret: string;
  /** Load demo data (default false). */
  readonly seed?: boolean;
  /**
   * After the start, demo customers place past orders and write reviews through the gateway
   * (demo-shoppers.ts; idempotent). Default false; never in production. Needs `seed` (the demo products).
   */
  readonly demoShoppers?: boolean;
  readonly nodeEnv?: 'development' | 'production' | 'test';
  /** Settings of the services (e.g. saga timeouts in tests); users' JWT_SECRET comes from `jwtSecret`. */
  readonly settings?: ServiceSettings;
  readonly logger?: (service: string) => Logger;
  /** The gateway's edge: rate budgets, their Redis, the safelist, trusted proxies, the entity cache, coalescing (default: the gateway's defaults). */
  readonly gateway?: Pick<GatewaySettings, 'rateLimits' | 'redisUrl' | 'persistedOperations' | 'trustProxy' | 'cache' | 'subgraphTimeoutMs' | 'instanceId' | 'coalescing'>;
}

export interface RunningSupergraph {
  readonly gateway: RunningGateway;
  readonly services: RunningServices;
  /** Stops one subgraph (chaos tests); `restart` brings it back on the same port. */
  restart(name: ServiceName, downtimeMs?: number): Promise<void>;
  stopService(name: ServiceName): Promise<void>;
  startService(name: ServiceName): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the four subgraphs and the gateway (see the module comment). */
export async function startSupergraph(options: SupergraphOptions): Promise<RunningSupergraph> {
  const loggerFor = options.logger ?? ((name: string) => createLogger(name));
  const services = {} as { -readonly [N in ServiceName]: RunningServices[N] };
  const ports = {} as Record<ServiceName, number>;
  const settingsOf = (name: ServiceName) => (name === 'users' ? { ...options.settings?.users, JWT_SECRET: options.jwtSecret } : options.settings?.[name]);
  const boot = async <N extends ServiceName>(name: N, port: number): Promise<RunningServices[N]> => {
    const url = options.databaseUrl(name);
    await ensureDatabase(url, options.databaseTls);
    const settings = settingsOf(name);
    return (await startService(SERVICES[name] as ServiceDefinition<any, unknown, any>, {
      port,
      databaseUrl: url,
      databaseTls: options.databaseTls,
      bus: options.bus,
      internalAuthSecret: options.internalAuthSecret,
      seed: options.seed ?? false,
      nodeEnv: options.nodeEnv ?? 'development',
      logger: loggerFor(name),
      ...(settings ? { settings } : {}),
    })) as RunningServices[N];
  };
  try {
    for (const name of SERVICE_NAMES) {
      const running = await boot(name, options.servicePorts?.[name] ?? SERVICES[name].defaultPort);
      (services as Record<ServiceName, RunningService<unknown>>)[name] = running;
      ports[name] = running.port;
    }
    // Users asks orders for guest orders' recipients (issue 18), signed like the gateway.
    const linkGuestContacts = () => services.users.parts.guestContacts.useOrders(services.orders.url, options.internalAuthSecret);
    linkGuestContacts();
    // The deny list of revoked sessions: the verifier consults it, users' session events feed it.
    const revocations = new SessionRevocations();
    const gateway = await startGateway({
      port: options.gatewayPort ?? 4000,
      subgraphUrls: Object.fromEntries(Object.entries(services).map(([name, s]) => [name, s.url])),
      internalAuthSecret: options.internalAuthSecret,
      verifier: jwtVerifier(options.jwtSecret, revocations),
      revocations,
      bus: options.bus,
      nodeEnv: options.nodeEnv ?? 'development',
      logger: loggerFor('gateway'),
      ...options.gateway,
      // GraphQL subscriptions over graphql-ws on the gateway's port and path.
      attach: attachSubscriptions({ internalAuthSecret: options.internalAuthSecret }),
    });
    if (options.demoShoppers && options.seed && options.nodeEnv !== 'production') {
      const log = loggerFor('demo-shoppers');
      // The shop works without them: a failure is logged, not fatal.
      await runDemoShoppers(gateway.url, log).catch((err: unknown) => log.error({ err }, 'demo shoppers failed; the shop runs without demo customers'));
    }
    const api: RunningSupergraph = {
      gateway,
      services,
      stopService: async (name) => services[name].stop(),
      startService: async (name) => {
        (services as Record<ServiceName, RunningService<unknown>>)[name] = await boot(name, ports[name]);
        if (name === 'users') linkGuestContacts();
      },
      restart: async (name, downtimeMs = 0) => {
        await api.stopService(name);
        if (downtimeMs) await new Promise((r) => setTimeout(r, downtimeMs));
        await api.startService(name);
      },
      stop: async () => {
        await gateway.stop();
        // Reverse order; each drains its requests and event handlers before closing its pool.
        for (const name of [...SERVICE_NAMES].reverse()) await services[name].stop();
      },
    };
    return api;
  } catch (error) {
    for (const s of Object.values(services).reverse()) await s.stop().catch(() => undefined);
    throw error;
  }
}
