/**
 * `npm run bench:checkout [-- --kafka] [--duration 30] [--customers 50] [--rate 100] [--products 40] …`
 *
 * Starts its own embedded Postgres (a fresh data directory under .data/bench-checkout-<id>, its own
 * port) and with --kafka its own single-node broker, measures the database's limit for the
 * reservation statement alone, then starts the whole shop in this process (as `npm start` does:
 * the four subgraphs and the gateway via startSupergraph, the durable in-process bus or Kafka) on
 * free loopback ports, runs the phases (closed loop, open loop, hot product) with the load
 * generator in a worker thread, prints one table and stops everything. Bounded: every phase
 * lasts --duration seconds, every drain at most --drain-timeout seconds. Loopback only.
 *
 * Options (defaults in brackets):
 *   --kafka                  the real broker instead of the in-process bus
 *   --duration <s> [30]      length of each phase
 *   --customers <n> [50]     closed-loop customers (also the open loop's pool of customers)
 *   --rate <n> [100]         open loop: mean orders per second (Poisson arrivals)
 *   --products <n> [40]      products of the spread phases
 *   --phases <list> [closed,open,hot]   which phases to run, in that order; --hot alone is --phases hot
 *   --hot-stock <n> [1000000]  initial stock of the hot product (the spread products get --stock)
 *   --stock <n> [1000000]
 *   --max-in-flight <n> [1000] open loop: arrivals beyond this many unanswered requests are dropped
 *   --drain-timeout <s> [240] --idle <s> [5] --warmup <s> [5] (a closed loop before the first phase, not reported; 0: none)
 *   --limit-seconds <s> [5]  --limit-connections <list> [8,16,32]   the database limit (0 seconds: skip it)
 *   --pg-port <port> [25461] --kafka-port <port> [19494] (its controller on the next port)
 *   --keep-data              keep .data/bench-checkout-<id> (removed by default)
 *   --inline-client          run the load generator in the shop's thread (default: a worker thread)
 *   --json <file>            also write the raw report as JSON
 *   --sql-profile            also print each phase's most frequent statements per order (by text)
 *   --log-level <level> [error]   the shop's log level
 *   --help
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Pool } from 'pg';
import type { EventBus } from '@shop/platform';
import { AccessTokenIssuer, createEventBus, createLogger, ensureDatabase, startEmbeddedPostgres, withDatabase } from '@shop/platform';
import { startKafkaBroker } from '@shop/platform/testing';
import type { KafkaBrokerHandle } from '@shop/platform/testing';
import type { RunningSupergraph } from '@shop/supergraph';
import { startSupergraph } from '@shop/supergraph';
import type { LimitSample } from './db-limit';
import { measureDatabaseLimit } from './db-limit';
import type { LoadResult, LoadSpec } from './load';
import { runLoad } from './load';
import { formatReport } from './report';
import type { BenchSettings, BenchTarget, PhaseName } from './run';
import { BENCH_SHOP_SETTINGS, DEFAULT_SETTINGS, PHASES, runCheckoutBench } from './run';
import { installSqlCounter, profileSqlTexts } from './sql-counter';

const ROOT = path.resolve(__dirname, '../../..');

function parseOptions() {
  const { values } = parseArgs({
    options: {
      kafka: { type: 'boolean', default: false },
      duration: { type: 'string' },
      customers: { type: 'string' },
      rate: { type: 'string' },
      products: { type: 'string' },
      phases: { type: 'string' },
      hot: { type: 'boolean', default: false },
      'hot-stock': { type: 'string' },
      stock: { type: 'string' },
      'max-in-flight': { type: 'string' },
      'drain-timeout': { type: 'string' },
      idle: { type: 'string' },
      warmup: { type: 'string' },
      'limit-seconds': { type: 'string', default: '5' },
      'limit-connections': { type: 'string', default: '8,16,32' },
      'pg-port': { type: 'string', default: '25461' },
      'kafka-port': { type: 'string', default: '19494' },
      'keep-data': { type: 'boolean', default: false },
      'inline-client': { type: 'boolean', default: false },
      json: { type: 'string' },
      'sql-profile': { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'error' },
    },
    strict: true,
    allowPositionals: false,
  });
  const int = (name: string, value: string | undefined, fallback: number, min = 1, max = 10_000_000): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in ${min}..${max}, got "${value}"`);
    return n;
  };
  const phases = values.hot ? (['hot'] as PhaseName[]) : values.phases ? values.phases.split(',').map((p) => p.trim()) : [...PHASES];
  for (const p of phases) if (!PHASES.includes(p as PhaseName)) throw new Error(`--phases: unknown phase "${p}" (closed, open, hot)`);
  const settings: BenchSettings = {
    ...DEFAULT_SETTINGS,
    durationS: int('duration', values.duration, DEFAULT_SETTINGS.durationS, 1, 3600),
    customers: int('customers', values.customers, DEFAULT_SETTINGS.customers, 1, 5000),
    rate: int('rate', values.rate, DEFAULT_SETTINGS.rate, 1, 20_000),
    products: int('products', values.products, DEFAULT_SETTINGS.products, 1, 10_000),
    stock: int('stock', values.stock, DEFAULT_SETTINGS.stock, 1, 1_000_000_000),
    hotStock: int('hot-stock', values['hot-stock'], DEFAULT_SETTINGS.hotStock, 1, 1_000_000_000),
    maxInFlight: int('max-in-flight', values['max-in-flight'], DEFAULT_SETTINGS.maxInFlight, 1, 100_000),
    drainTimeoutS: int('drain-timeout', values['drain-timeout'], DEFAULT_SETTINGS.drainTimeoutS, 0, 3600),
    idleS: int('idle', values.idle, DEFAULT_SETTINGS.idleS, 1, 600),
    warmupS: int('warmup', values.warmup, DEFAULT_SETTINGS.warmupS, 0, 600),
    phases: phases as PhaseName[],
  };
  const limitConnections = values['limit-connections'].split(',').map((n) => int('limit-connections', n.trim(), 8, 1, 200));
  return {
    kafka: values.kafka,
    settings,
    limitSeconds: int('limit-seconds', values['limit-seconds'], 5, 0, 600),
    limitConnections,
    pgPort: int('pg-port', values['pg-port'], 25461, 1024, 65535),
    kafkaPort: int('kafka-port', values['kafka-port'], 19494, 1024, 65534),
    keepData: values['keep-data'],
    inlineClient: values['inline-client'],
    json: values.json,
    sqlProfile: values['sql-profile'],
    logLevel: values['log-level'],
  };
}

function runLoadInWorker(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    // Loader hooks of `--import tsx` do not reach worker threads: the worker registers tsx's CommonJS hook itself.
    const entry = path.join(__dirname, 'load.worker.ts');
    const worker = new Worker(`require('tsx/cjs'); require(${JSON.stringify(entry)});`, { eval: true, workerData: spec });
    worker.once('message', (m: { ok: true; result: LoadResult } | { ok: false; error: string }) => {
      if (m.ok) resolve(m.result);
      else reject(new Error(`load worker failed: ${m.error}`));
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load worker exited with code ${code}`));
    });
  });
}

/** The header comment of this file: the usage. */
function usage(): string {
  const source = readFileSync(__filename, 'utf8');
  const header = source.slice(source.indexOf('/**') + 3, source.indexOf('*/'));
  return header
    .split('\n')
    .map((line) => line.replace(/^ \* ?/, ''))
    .join('\n')
    .trim();
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions();
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n(npm run bench:checkout -- --help for the options)\n`);
    process.exit(2);
  }
  const command = `npm run bench:checkout -- ${process.argv.slice(2).join(' ')}`.trim();
  const log = (line: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  const dataDir = path.join(ROOT, '.data', `bench-checkout-${randomBytes(3).toString('hex')}`);
  const abort = new AbortController();
  let interrupted = 0;
  const onSignal = (): void => {
    interrupted++;
    if (interrupted > 1) process.exit(130);
    log('interrupted: finishing the current step, then stopping (again to exit at once)');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const cleanups: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((error: unknown) => log(`error while stopping: ${String(error)}`));
  };
  let exitCode = 0;
  try {
    installSqlCounter();
    if (options.sqlProfile) profileSqlTexts();
    log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; data in ${path.relative(ROOT, dataDir)}`);
    const pg = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'postgres'), port: options.pgPort });
    cleanups.push(async () => {
      await pg.stop();
      if (!options.keepData) rmSync(dataDir, { recursive: true, force: true });
    });
    let broker: KafkaBrokerHandle | undefined;
    if (options.kafka) {
      log(`starting Kafka on 127.0.0.1:${options.kafkaPort}`);
      broker = await startKafkaBroker({ port: options.kafkaPort, controllerPort: options.kafkaPort + 1, dataDir: path.join(dataDir, 'kafka') });
      const b = broker;
      cleanups.push(() => b.stop());
    }

    // The database's own limit, before the shop starts (same cluster, nothing else on it).
    let limit: LimitSample[] | null = null;
    if (options.limitSeconds > 0 && !abort.signal.aborted) {
      log(`database limit: ${options.limitConnections.join('/')} connections, ${options.limitSeconds} s each, spread and hot`);
      limit = await measureDatabaseLimit({ adminUrl: pg.url('postgres'), connections: options.limitConnections, seconds: options.limitSeconds, products: options.settings.products, log });
    }

    // The shop, as `npm start` composes it.
    const logger = (name: string) => createLogger(name, options.logLevel);
    let pool: Pool | undefined;
    if (!broker) {
      await ensureDatabase(pg.url('eventbus'));
      pool = new Pool({ connectionString: pg.url('eventbus'), max: 20 });
      const p = pool;
      cleanups.push(async () => void (await p.end()));
    }
    const bus: EventBus = createEventBus({ brokers: broker?.brokers, ...(pool ? { pool } : {}), logger: logger('bus'), clientId: 'shop', replicationFactor: 1 });
    cleanups.push(() => bus.close());
    const jwtSecret = randomBytes(32).toString('base64url');
    log('starting the shop');
    const supergraph: RunningSupergraph = await startSupergraph({
      databaseUrl: (name) => withDatabase(pg.url('postgres'), name),
      bus,
      gatewayPort: 0,
      servicePorts: { users: 0, catalog: 0, inventory: 0, orders: 0 },
      internalAuthSecret: randomBytes(32).toString('base64url'),
      jwtSecret,
      seed: false,
      nodeEnv: 'development',
      settings: BENCH_SHOP_SETTINGS,
      logger,
    });
    cleanups.push(() => supergraph.stop());
    const issuer = new AccessTokenIssuer(jwtSecret, 6 * 3600);
    const target: BenchTarget = {
      bus: bus.kind,
      gatewayUrl: supergraph.gateway.url,
      servicePorts: {
        users: supergraph.services.users.port,
        catalog: supergraph.services.catalog.port,
        inventory: supergraph.services.inventory.port,
        orders: supergraph.services.orders.port,
      },
      databaseUrl: (name) => (name === 'eventbus' && broker ? undefined : withDatabase(pg.url('postgres'), name)),
      tokenFor: async (userId, roles) => (await issuer.issue({ userId, roles, sessionId: randomUUID() })).token,
    };
    const report = await runCheckoutBench(target, options.settings, { runLoad: options.inlineClient ? runLoad : runLoadInWorker, log, signal: abort.signal });
    const text = formatReport(report, limit, command);
    process.stdout.write(`\n${text}\n\n`);
    if (options.json) writeFileSync(options.json, JSON.stringify({ report, limit, command }, null, 2));
  } catch (error) {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    exitCode = 1;
  } finally {
    log('stopping');
    await stopAll();
  }
  process.exit(exitCode);
}

void main();
