/**
 * Fault steps of the chaos run, each one thing that goes wrong in production and its repair:
 * a subgraph SIGKILLed and started again, the Kafka broker stopped and started again, Postgres
 * restarted. A step only injects and repairs; what the shop did meanwhile is read from the
 * load's and the reader's timestamps against the step's own (see `FaultTimes`).
 */
import type { ChaosShop, Subgraph } from './shop';
import { sleep } from './supervisor';

/** When a fault happened, in epoch ms. */
export interface FaultTimes {
  /** The fault was injected (the kill sent, the stop begun). */
  readonly injectedAt: number;
  /** The repair began (the process spawned again, the server started again). */
  readonly repairedAt: number;
  /** The repaired part answered as ready again. */
  readonly readyAt: number;
}

export interface FaultStep {
  /** What the table calls it: `SIGKILL orders`, `Kafka stopped 10 s`. */
  readonly name: string;
  /** Which part is out, for the checks that depend on it (the catalogue must answer while inventory or orders is down). */
  readonly target: Subgraph | 'kafka' | 'postgres';
  run(shop: ChaosShop): Promise<FaultTimes>;
}

/** SIGKILL of one subgraph (no drain: a crash), `downMs` with nothing running, then a restart with the same settings. */
export function killSubgraph(name: Subgraph, downMs: number): FaultStep {
  return {
    name: `SIGKILL ${name}, ${downMs / 1000} s down`,
    target: name,
    async run(shop) {
      const managed = shop.process(name);
      const injectedAt = Date.now();
      await managed.kill();
      await sleep(downMs);
      const repairedAt = Date.now();
      await managed.start();
      return { injectedAt, repairedAt, readyAt: managed.readyAt };
    },
  };
}

/** The Kafka broker stopped (SIGTERM: a rolling restart or a lost broker) for `downMs`, then started again on its data. */
export function kafkaOutage(downMs: number): FaultStep {
  return serverOutage(`Kafka stopped, ${downMs / 1000} s down`, 'kafka', downMs, (shop) => shop.stopKafka(), (shop) => shop.startKafka());
}

/** Postgres restarted (every service's database at once): stopped as an operator would, `downMs` down, started on the same data. */
export function postgresRestart(downMs: number): FaultStep {
  return serverOutage(`Postgres restarted, ${downMs / 1000} s down`, 'postgres', downMs, (shop) => shop.stopPostgres(), (shop) => shop.startPostgres());
}

/** A server of the infrastructure stopped, `downMs` down, started again: ready once `start` resolves. */
function serverOutage(name: string, target: 'kafka' | 'postgres', downMs: number, stop: (shop: ChaosShop) => Promise<void>, start: (shop: ChaosShop) => Promise<void>): FaultStep {
  return {
    name,
    target,
    async run(shop) {
      const injectedAt = Date.now();
      await stop(shop);
      await sleep(downMs);
      const repairedAt = Date.now();
      await start(shop);
      return { injectedAt, repairedAt, readyAt: Date.now() };
    },
  };
}
