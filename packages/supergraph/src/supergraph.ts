import type { EventBus, Logger, RunningService, ServiceDefinition } from '@shop/platform';
import { createLogger, ensureDatabase, startService } from '@shop/platform';
import { catalogService } from '@shop/catalog';
import { inventoryService } from '@shop/inventory';
import { ordersService } from '@shop/orders';
import { usersService } from '@shop/users';
import type { RunningGateway } from '@shop/gateway';
import { jwtVerifier, SessionRevocations, startGateway } from '@shop/gateway';
import { attachSubscriptions } from '@shop/gateway/src/subscriptions';

/** Every subgraph, in start order. */
export const SERVICES: ReadonlyArray<ServiceDefinition<any>> = [usersService, catalogService, inventoryService, ordersService];
export type ServiceName = 'users' | 'catalog' | 'inventory' | 'orders';

export interface SupergraphOptions {
  /** postgres:// URL of each service's own database (created when missing). */
  readonly databaseUrl: (service: ServiceName) => string;
  readonly bus: EventBus;
  /** Gateway port (default 4000; 0 = any free port). */
  readonly gatewayPort?: number;
  /** Subgraph ports (default 4001..4004; 0 = any free port). */
  readonly servicePorts?: Partial<Record<ServiceName, number>>;
  readonly internalAuthSecret: string;
  readonly jwtSecret: string;
  /** Load demo data (default false). */
  readonly seed?: boolean;
  readonly nodeEnv?: 'development' | 'production' | 'test';
  /** Extra settings for services (e.g. saga timeouts in tests). */
  readonly extra?: Readonly<Record<string, unknown>>;
  readonly logger?: (service: string) => Logger;
}

export interface RunningSupergraph {
  readonly gateway: RunningGateway;
  readonly services: Readonly<Record<ServiceName, RunningService>>;
  /** Stops one subgraph (chaos tests); `restart` brings it back on the same port. */
  restart(name: ServiceName, downtimeMs?: number): Promise<void>;
  stopService(name: ServiceName): Promise<void>;
  startService(name: ServiceName): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the four subgraphs (each on its own port with its own database, talking to the others
 * only over HTTP and the event bus) and the gateway in front of them.
 */
export async function startSupergraph(options: SupergraphOptions): Promise<RunningSupergraph> {
  const loggerFor = options.logger ?? ((name: string) => createLogger(name));
  const services = {} as Record<ServiceName, RunningService>;
  const ports = {} as Record<ServiceName, number>;
  const boot = async (def: ServiceDefinition<any>, port: number): Promise<RunningService> => {
    const name = def.name as ServiceName;
    const url = options.databaseUrl(name);
    await ensureDatabase(url);
    return startService(def, {
      port,
      databaseUrl: url,
      bus: options.bus,
      internalAuthSecret: options.internalAuthSecret,
      seed: options.seed ?? false,
      nodeEnv: options.nodeEnv ?? 'development',
      logger: loggerFor(name),
      extra: { JWT_SECRET: options.jwtSecret, ...options.extra },
    });
  };
  try {
    // Users first: its seed prints the admin credentials before the rest of the start-up noise.
    for (const def of SERVICES) {
      const name = def.name as ServiceName;
      const running = await boot(def, options.servicePorts?.[name] ?? def.defaultPort);
      services[name] = running;
      ports[name] = running.port;
    }
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
      // GraphQL subscriptions over graphql-ws on the gateway's port and path.
      attach: attachSubscriptions({ internalAuthSecret: options.internalAuthSecret }),
    });
    const byName = (name: ServiceName): ServiceDefinition<any> => SERVICES.find((s) => s.name === name)!;
    const api: RunningSupergraph = {
      gateway,
      services,
      stopService: async (name) => services[name].stop(),
      startService: async (name) => {
        services[name] = await boot(byName(name), ports[name]);
      },
      restart: async (name, downtimeMs = 0) => {
        await api.stopService(name);
        if (downtimeMs) await new Promise((r) => setTimeout(r, downtimeMs));
        await api.startService(name);
      },
      stop: async () => {
        await gateway.stop();
        // Reverse order; each drains its requests and event handlers before closing its pool.
        for (const def of [...SERVICES].reverse()) await services[def.name as ServiceName].stop();
      },
    };
    return api;
  } catch (error) {
    for (const s of Object.values(services).reverse()) await s.stop().catch(() => undefined);
    throw error;
  }
}
