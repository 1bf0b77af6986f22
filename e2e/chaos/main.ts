/**
 * `npm run chaos [-- --faults users,catalog,inventory,orders,kafka,postgres] [--keep-data] [--log-level warn]
 *   [--gateway-port 4440] [--pg-port 25445] [--kafka-port 19445]`
 *
 * The chaos suite: starts the shop with every service its own process on a real Postgres and a
 * real Kafka (see shop.ts), puts a checkout load on it through the gateway (the checkout
 * benchmark's client: customers paying by card, a few whose card is declined, a product that sells
 * out) with a catalogue reader beside it, then injects the faults in turn: SIGKILL of each subgraph
 * and its restart, Kafka stopped and started again, Postgres restarted. Once the orders are final
 * it checks the invariants (invariants.ts), prints one table and exits 1 if any invariant is
 * broken or the shop never recovered from a fault. Bounded: a few minutes; fresh data in
 * `.data/chaos-<id>` (removed unless --keep-data). Ports: the gateway on --gateway-port and the
 * subgraphs on the next four, the payment double on the fifth; Postgres on --pg-port, Kafka on
 * --kafka-port and the next. Loopback only.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { LoadResult, LoadSpec } from '../bench/checkout/load';
import { runLoad } from '../bench/checkout/load';
import { productCreator, waitFor } from '../bench/checkout/run';
import { ShopState } from '../bench/checkout/shop-state';
import type { FaultStep, FaultTimes } from './faults';
import { kafkaOutage, killSubgraph, postgresRestart } from './faults';
import { Canceller } from './canceller';
import { checkInvariants } from './invariants';
import type { FaultRow } from './report';
import { formatReport } from './report';
import { ChaosShop } from './shop';
import { sleep } from './supervisor';
import { readCatalogue, Timeline } from './timeline';

/** The faults, in order. Downtimes are short: what matters is that each one happens under load. */
const FAULTS: readonly FaultStep[] = [
  killSubgraph('users', 2_000),
  killSubgraph('catalog', 2_000),
  killSubgraph('inventory', 4_000),
  killSubgraph('orders', 4_000),
  kafkaOutage(8_000),
  postgresRestart(5_000),
];
/** Load before the first fault (the baseline row), and after each recovery before the next fault. */
const BASELINE_MS = 8_000;
const CALM_MS = 3_000;
/** How long a fault may take to recover (first order acknowledged after the restart). */
const RECOVERY_TIMEOUT_MS = 90_000;
/**
 * Once the load has stopped, the orders must become final: the wait ends (and the invariants then
 * fail) when no order left PENDING for DRAIN_STALL_MS (a lost event leaves its order PENDING for
 * good), or at DRAIN_CAP_MS whatever the progress. Progress, not a fixed time: on a loaded machine
 * a backlog may take minutes.
 */
const DRAIN_STALL_MS = 120_000;
const DRAIN_CAP_MS = 300_000;

/**
 * The load: open loops (Poisson arrivals at a fixed rate, so the work of a run does not grow with
 * the machine's speed and the final drain stays short), per kind of customer: paying by card,
 * with a card that is declined, and one who cancels each order a moment later.
 */
const LOADS = [
  { name: 'card', customers: 8, ratePerS: 12, paymentToken: 'tok_visa' },
  { name: 'declined', customers: 2, ratePerS: 1, paymentToken: 'tok_chargeDeclined' },
  { name: 'cancelled', customers: 1, ratePerS: 2, paymentToken: 'tok_visa' },
] as const;
/** Unanswered requests per load beyond which arrivals are dropped (a bound while a service hangs). */
const MAX_IN_FLIGHT = 20;
const PRODUCTS = 6;
const PLENTY = 100_000;
/** The scarce product: fewer units than the orders it gets, so it sells out under chaos. */
const SCARCE = 25;

function options() {
  const { values } = parseArgs({
    options: {
      'keep-data': { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'warn' },
      'gateway-port': { type: 'string', default: '4440' },
      'pg-port': { type: 'string', default: '25445' },
      'kafka-port': { type: 'string', default: '19445' },
      faults: { type: 'string' },
    },
    strict: true,
  });
  const port = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1024 || n > 65_530) throw new Error(`--${name} must be a port number, got "${v}"`);
    return n;
  };
  const names = FAULTS.map((f) => f.target);
  const chosen = values.faults?.split(',').map((f) => f.trim()) ?? names;
  for (const f of chosen) if (!names.includes(f as FaultStep['target'])) throw new Error(`--faults: unknown fault "${f}" (${names.join(', ')})`);
  return {
    faults: FAULTS.filter((f) => chosen.includes(f.target)),
    keepData: values['keep-data'],
    logLevel: values['log-level'],
    ports: { gateway: port('gateway-port', values['gateway-port']), postgres: port('pg-port', values['pg-port']), kafka: port('kafka-port', values['kafka-port']) },
  };
}

async function main(): Promise<number> {
  const opts = options();
  const t0 = Date.now();
  const loadStart = os.loadavg();
  const log = (line: string): void => void process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  log(`load average ${loadStart.map((x) => x.toFixed(2)).join(' ')}`);
  const shop = new ChaosShop({ ports: opts.ports, logLevel: opts.logLevel, keepData: opts.keepData, log });
  let stopping = false;
  const onSignal = (): void => {
    if (stopping) process.exit(130);
    stopping = true;
    log('interrupted: stopping everything');
    void shop.stop().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await shop.start();
    const runId = randomBytes(3).toString('hex');
    const keyPrefix = `chaos-${runId}`;
    const create = await productCreator(shop.gatewayUrl, await shop.tokenFor(['CUSTOMER', 'ADMIN']), `Chaos ${runId}`);
    const productIds: string[] = [];
    for (let i = 0; i < PRODUCTS; i++) productIds.push(await create(`Chaos ${runId} product ${i + 1}`, PLENTY));
    productIds.push(await create(`Chaos ${runId} scarce product`, SCARCE));
    const state = ShopState.open(shop.databaseUrl('orders'), shop.databaseUrl('inventory'));
    try {
      await waitFor(() => state.productsKnown(productIds), 90_000, 'inventory and orders to know the products');
    } finally {
      await state.close();
    }
    log(`${productIds.length} products (one with ${SCARCE} units); orders per second: ${LOADS.map((l) => `${l.ratePerS} ${l.name}`).join(', ')}`);

    // The load and the reader run through every fault; each is told to stop after the last one.
    const timeline = new Timeline();
    const stop = new AbortController();
    const specs = await Promise.all(
      LOADS.map(
        async (l): Promise<LoadSpec> => ({
          kind: 'open',
          gatewayUrl: shop.gatewayUrl,
          tokens: await Promise.all(Array.from({ length: l.customers }, () => shop.tokenFor(['CUSTOMER']))),
          productIds,
          durationMs: 15 * 60_000,
          customers: l.customers,
          rate: l.ratePerS,
          maxInFlight: MAX_IN_FLIGHT,
          maxOrders: 100_000,
          keyPrefix: `${keyPrefix}-${l.name}`,
          paymentToken: l.paymentToken,
          requestTimeoutMs: 15_000,
        }),
      ),
    );
    // The cancelling load has one customer: the canceller acts with that customer's token.
    const cancelling = specs[LOADS.findIndex((l) => l.name === 'cancelled')]!;
    const canceller = new Canceller(shop.gatewayUrl, cancelling.tokens[0]!);
    const loads: Promise<LoadResult>[] = specs.map((spec) =>
      runLoad(spec, { signal: stop.signal, onResult: spec === cancelling ? (e) => (timeline.onOrder(e), canceller.onResult(e)) : timeline.onOrder }),
    );
    const reader = readCatalogue(shop.gatewayUrl, timeline, stop.signal);

    const loadStartedAt = Date.now();
    log(`baseline: ${BASELINE_MS / 1000} s of load`);
    await sleep(BASELINE_MS);
    const done: Array<{ step: FaultStep; times: FaultTimes; recoveredAt: number | null }> = [];
    for (const step of opts.faults) {
      log(`${step.name} (load average ${os.loadavg()[0]!.toFixed(2)})`);
      const times = await step.run(shop);
      const recoveredAt = await timeline.firstOrderAfter(times.repairedAt, RECOVERY_TIMEOUT_MS);
      log(`  ready ${((times.readyAt - times.repairedAt) / 1000).toFixed(1)} s after the restart, first order ${recoveredAt === null ? 'NEVER' : `${((recoveredAt - times.repairedAt) / 1000).toFixed(1)} s`} after it`);
      done.push({ step, times, recoveredAt });
      await sleep(CALM_MS);
    }
    stop.abort();
    const results = await Promise.all(loads);
    await reader;
    await canceller.settle();
    const loadEndedAt = Date.now();
    const acknowledged = results.reduce((n, r) => n + r.acks.length, 0);
    const dropped = results.reduce((n, r) => n + r.dropped, 0);
    log(`load stopped: ${acknowledged} orders acknowledged (${canceller.cancelled} cancelled by their customer, ${canceller.refused} no longer cancellable, ${canceller.failed} cancellations failed); waiting for every order to be final`);
    const drainState = ShopState.open(shop.databaseUrl('orders'), shop.databaseUrl('inventory'));
    try {
      const startedAt = Date.now();
      let lastLog = startedAt;
      let lastProgressAt = startedAt;
      let lastPending = Number.POSITIVE_INFINITY;
      for (;;) {
        const { pending, total } = await drainState.progress(keyPrefix);
        const now = Date.now();
        if (pending < lastPending) [lastPending, lastProgressAt] = [pending, now];
        if (now >= lastLog + 10_000) {
          log(`  ${pending} of ${total} orders still PENDING`);
          lastLog = now;
        }
        const stalled = now - lastProgressAt > DRAIN_STALL_MS;
        if (pending === 0 || stalled || now - startedAt > DRAIN_CAP_MS) {
          log(pending === 0 ? `all ${total} orders final after ${((now - startedAt) / 1000).toFixed(0)} s` : `${pending} of ${total} orders still PENDING (${stalled ? `none final for ${DRAIN_STALL_MS / 1000} s` : `after ${DRAIN_CAP_MS / 1000} s`})`);
          break;
        }
        await sleep(1_000);
      }
    } finally {
      await drainState.close();
    }

    const invariants = await checkInvariants({
      databaseUrl: (name) => shop.databaseUrl(name),
      brokers: shop.brokers,
      ledger: shop.ledger,
      keyPrefix,
      productIds,
      loads: results,
      timeline,
      faults: done,
    });
    const rows: FaultRow[] = [
      { fault: 'baseline (no fault)', windowS: (done[0]?.times.injectedAt ?? loadEndedAt) - loadStartedAt, ...windowOf(timeline, loadStartedAt, done[0]?.times.injectedAt ?? loadEndedAt), readyS: null, recoveredS: null },
      ...done.map((f, i) => {
        const end = done[i + 1]?.times.injectedAt ?? loadEndedAt;
        return {
          fault: f.step.name,
          windowS: end - f.times.injectedAt,
          ...windowOf(timeline, f.times.injectedAt, end),
          readyS: (f.times.readyAt - f.times.repairedAt) / 1000,
          recoveredS: f.recoveredAt === null ? null : (f.recoveredAt - f.times.repairedAt) / 1000,
        };
      }),
    ].map((r) => ({ ...r, windowS: r.windowS / 1000 }));
    const neverRecovered = done.filter((f) => f.recoveredAt === null);
    const report = formatReport({
      command: `npm run chaos ${process.argv.slice(2).join(' ')}`.trim(),
      rows,
      invariants,
      durationS: (Date.now() - t0) / 1000,
      loadAverage: { start: loadStart, end: os.loadavg() },
      settings:
        `open-loop orders per second: ${LOADS.map((l) => `${l.ratePerS} ${l.name} (${l.customers} customers)`).join(', ')}; the canceller: ${canceller.cancelled} cancelled, ${canceller.refused} refused, ${canceller.failed} failed; ${dropped} arrivals dropped (${MAX_IN_FLIGHT} requests of a load unanswered); ` +
        `${productIds.length} products (one with ${SCARCE} units), ${acknowledged} orders acknowledged`,
    });
    process.stdout.write(`\n${report}\n\n`);
    const broken = invariants.filter((i) => !i.ok);
    if (broken.length || neverRecovered.length) {
      log(`FAILED: ${[...broken.map((i) => `invariant broken: ${i.name}`), ...neverRecovered.map((f) => `no order after: ${f.step.name}`)].join('; ')}`);
      return 1;
    }
    log('every invariant held');
    return 0;
  } catch (error) {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  } finally {
    log('stopping');
    await shop.stop();
  }
}

function windowOf(timeline: Timeline, from: number, to: number): Pick<FaultRow, 'orders' | 'reads'> {
  return { orders: Timeline.stats(timeline.orders, from, to), reads: Timeline.stats(timeline.reads, from, to) };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  },
);
