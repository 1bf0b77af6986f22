/**
 * The checkout benchmark against a running shop (any `BenchTarget`: the CLI's own shop, or the
 * test harness's in the CI smoke): creates products with stock and customers, measures idle SQL,
 * runs each phase (closed loop, open loop, hot product) for a fixed time, waits until its orders
 * are final, and reads the outcome from the shop's own databases: throughput, latencies, SQL
 * statements per order, and the correctness checks (no oversell, nothing lost or duplicated).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import os from 'node:os';
import type { ServiceSettings } from '@shop/supergraph';
import { quantile } from './db-limit';
import type { Ack, LoadResult, LoadSpec } from './load';
import type { OrderState } from './shop-state';
import { FINAL_STATUSES, ShopState } from './shop-state';
import type { SqlCounts, SqlTextCounts } from './sql-counter';
import { sqlCounts, sqlDelta, sqlTextCounts } from './sql-counter';

export const SERVICES = ['users', 'catalog', 'inventory', 'orders'] as const;
export type BenchService = (typeof SERVICES)[number];
export type PhaseName = 'closed' | 'open' | 'hot';
export const PHASES: readonly PhaseName[] = ['closed', 'open', 'hot'];

/**
 * The settings the benchmarked shop runs with (the CLI's shop and the CI smoke's alike). Each
 * bench customer places far more orders than the fraud rules let a real one (ORDER_VELOCITY holds
 * an order once a customer placed 50 in an hour, issue 19), and how many it places depends on
 * the machine's speed: the bench measures the saga, so the fraud checks are off.
 */
export const BENCH_SHOP_SETTINGS: ServiceSettings = { orders: { FRAUD_CHECKS: false } };

export interface BenchTarget {
  readonly bus: 'in-process' | 'kafka';
  /** http://127.0.0.1:<port>/graphql of the gateway. */
  readonly gatewayUrl: string;
  /** Each subgraph's port (its /metrics). */
  readonly servicePorts: Readonly<Record<BenchService, number>>;
  /** Each service's database URL, and the in-process bus's (undefined on Kafka). */
  databaseUrl(name: BenchService | 'eventbus'): string | undefined;
  /** An access token as the users service would issue it. */
  tokenFor(userId: string, roles: Array<'CUSTOMER' | 'ADMIN'>): Promise<string>;
}

export interface BenchSettings {
  readonly durationS: number;
  readonly customers: number;
  /** Open loop: orders per second. */
  readonly rate: number;
  /** Products of the spread phases (closed, open). */
  readonly products: number;
  /** Initial stock of each spread product. */
  readonly stock: number;
  /** Initial stock of the hot product (less than the orders it gets makes the race for the last units part of the run). */
  readonly hotStock: number;
  readonly phases: readonly PhaseName[];
  readonly maxInFlight: number;
  readonly maxOrdersPerPhase: number;
  /** How long to wait, after a phase, for its orders to be final. */
  readonly drainTimeoutS: number;
  /** Seconds of no load over which idle SQL is measured. */
  readonly idleS: number;
  /** A closed-loop warm-up before the first phase (not reported; 0: none), so that the first phase does not pay for cold caches alone. */
  readonly warmupS: number;
  readonly requestTimeoutMs: number;
  readonly paymentToken: string;
}

export const DEFAULT_SETTINGS: BenchSettings = {
  durationS: 30,
  customers: 50,
  rate: 100,
  products: 40,
  stock: 1_000_000,
  hotStock: 1_000_000,
  phases: PHASES,
  maxInFlight: 1000,
  maxOrdersPerPhase: 200_000,
  drainTimeoutS: 240,
  idleS: 5,
  warmupS: 5,
  requestTimeoutMs: 30_000,
  paymentToken: 'tok_visa',
};

export interface Quantiles {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export interface PhaseReport {
  readonly phase: PhaseName;
  readonly label: string;
  readonly durationS: number;
  readonly sent: number;
  readonly acknowledged: number;
  /** Order rows of the phase (acknowledged, plus those of requests that timed out on the client). */
  readonly created: number;
  readonly errors: Record<string, number>;
  readonly dropped: number;
  readonly maxScheduleLagMs: number;
  readonly placedPerS: number;
  readonly confirmedInPhasePerS: number;
  /** Confirmed orders over the time from the phase's start to its last final order. */
  readonly confirmedToDrainPerS: number;
  /** Seconds after the end of the phase until its last order was final; null when the drain timed out. */
  readonly drainS: number | null;
  readonly placeOrderMs: Quantiles;
  /** placed → CONFIRMED, server timestamps, CONFIRMED orders only. */
  readonly placedToConfirmedMs: Quantiles;
  /** Orders by final status (REJECTED by reason), PENDING when still pending after the drain. */
  readonly outcomes: Record<string, number>;
  readonly sql: SqlReport;
  readonly correctness: PhaseCorrectness;
  readonly loadAverage: { readonly start: number[]; readonly end: number[] };
}

export interface SqlReport {
  /** Statements per order created, over the phase and its drain, idle rate subtracted, by database label. */
  readonly perOrderByDb: Record<string, number>;
  readonly perOrder: number;
  /** Without subtracting the idle rate. */
  readonly perOrderGross: number;
  /** Share of transaction control (BEGIN/COMMIT/…) in the statements. */
  readonly txShare: number;
  /** From each service's /metrics `db_query_duration_seconds_count` (TypeORM's queries only), per order, idle subtracted. */
  readonly metricsPerOrder: Record<string, number>;
  readonly windowS: number;
  /** With `--sql-profile`: the most frequent statements per order created (gross), by database label and text. */
  readonly byStatement?: ReadonlyArray<{ readonly db: string; readonly text: string; readonly perOrder: number }>;
}

export interface PhaseCorrectness {
  readonly acknowledged: number;
  /** Acknowledged orders without a row in the orders database. */
  readonly lost: number;
  /** Acknowledged orders still PENDING after the drain. */
  readonly notFinal: number;
  /** Idempotency keys with more than one order, or one order acknowledged under two keys. */
  readonly duplicated: number;
  /** Orders of failed requests whose outcome the client could not know (timeouts, 5xx): not an error, reported. */
  readonly ordersOfFailedRequests: number;
  /** Orders with a key of this phase that the client neither acknowledged nor saw fail: must be 0. */
  readonly unexplained: number;
}

export interface StockCorrectness {
  readonly products: number;
  /** Units confirmed (or held by a still pending order) beyond the initial stock, summed over products. */
  readonly oversoldUnits: number;
  /** Products with on_hand < reserved or a negative level. */
  readonly negative: number;
  /** Products whose reserved count differs from their open reservation lines. */
  readonly reservedMismatch: number;
  /** CONFIRMED orders without exactly their lines reserved, or final non-confirmed orders still holding stock. */
  readonly orderInventoryMismatch: number;
}

export interface IdleReport {
  readonly seconds: number;
  /** Statements per second per database label, no load. */
  readonly sqlPerSByDb: Record<string, number>;
  readonly metricsPerS: Record<string, number>;
  /** Every statement the counter saw, per second, whatever the database. */
  readonly totalPerS: number;
}

export interface BenchReport {
  readonly bus: 'in-process' | 'kafka';
  readonly settings: BenchSettings;
  readonly startedAt: string;
  readonly cpus: number;
  readonly loadAverage: { readonly start: number[]; readonly end: number[] };
  readonly idle: IdleReport;
  readonly phases: PhaseReport[];
  readonly stock: StockCorrectness;
}

export interface RunHooks {
  /** Runs one phase's load (in a worker thread for the CLI, inline in jest). */
  readonly runLoad: (spec: LoadSpec) => Promise<LoadResult>;
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

const CREATE_CATEGORY = 'mutation($input: CreateCategoryInput!) { createCategory(input: $input) { id } }';
const CREATE_PRODUCT = 'mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }';

/**
 * Creates a category named `categoryName` through the gateway (as the admin of `adminToken`) and
 * answers a function that creates one product in it (price 10.00, low-stock threshold 0) with its
 * initial stock, answering the product id.
 */
export async function productCreator(gatewayUrl: string, adminToken: string, categoryName: string): Promise<(name: string, initialStock: number) => Promise<string>> {
  const category = await gql<{ createCategory: { id: string } }>(gatewayUrl, CREATE_CATEGORY, { input: { name: categoryName } }, adminToken);
  return async (name, initialStock) =>
    (
      await gql<{ createProduct: { id: string } }>(
        gatewayUrl,
        CREATE_PRODUCT,
        { input: { name, description: 'Checkout benchmark product', price: '10.00', categoryId: category.createCategory.id, initialStock, lowStockThreshold: 0 } },
        adminToken,
      )
    ).createProduct.id;
}

export async function runCheckoutBench(target: BenchTarget, settings: BenchSettings, hooks: RunHooks): Promise<BenchReport> {
  const log = hooks.log ?? (() => undefined);
  const runId = randomBytes(3).toString('hex');
  const startedAt = new Date().toISOString();
  const loadStart = os.loadavg();
  const state = ShopState.open(target.databaseUrl('orders')!, target.databaseUrl('inventory')!);
  const dbLabels = databaseLabels(target);
  try {
    // Products with stock, created as an admin through the gateway like any catalogue change.
    const admin = await target.tokenFor(randomUUID(), ['CUSTOMER', 'ADMIN']);
    const create = await productCreator(target.gatewayUrl, admin, `Checkout bench ${runId}`);
    const spread: string[] = [];
    for (let i = 0; i < settings.products; i++) spread.push(await create(`Bench ${runId} product ${i + 1}`, settings.stock));
    const hot = await create(`Bench ${runId} hot product`, settings.hotStock);
    const allProducts = [...spread, hot];
    await waitFor(() => state.productsKnown(allProducts), 90_000, 'inventory and orders to know the benchmark products');
    const tokens = await Promise.all(Array.from({ length: Math.max(settings.customers, 1) }, () => target.tokenFor(randomUUID(), ['CUSTOMER'])));
    log(`${settings.products} products (stock ${settings.stock} each) + 1 hot product (stock ${settings.hotStock}), ${tokens.length} customers`);

    // Idle SQL: a few seconds with no load, once the set-up's events have been handled.
    await sleep(3_000);
    const idle = await measureIdle(target, dbLabels, settings.idleS);
    log(`idle SQL/s: ${formatRecord(idle.sqlPerSByDb)}`);

    const specFor = (phase: PhaseName | 'warmup'): LoadSpec => ({
      kind: phase === 'open' ? 'open' : 'closed',
      gatewayUrl: target.gatewayUrl,
      tokens,
      productIds: phase === 'hot' ? [hot] : spread,
      durationMs: (phase === 'warmup' ? settings.warmupS : settings.durationS) * 1000,
      customers: settings.customers,
      rate: settings.rate,
      maxInFlight: settings.maxInFlight,
      maxOrders: settings.maxOrdersPerPhase,
      keyPrefix: `bench-${runId}-${phase}`,
      paymentToken: settings.paymentToken,
      requestTimeoutMs: settings.requestTimeoutMs,
    });
    if (settings.warmupS > 0 && settings.phases.length) {
      const spec = specFor('warmup');
      log(`warm-up: closed loop for ${settings.warmupS} s (not reported)`);
      const warm = await hooks.runLoad(spec);
      const drained = await drain(state, spec.keyPrefix, warm.acks.length, settings.drainTimeoutS, hooks);
      await waitQuiet(idle, 30_000);
      log(`  warm-up: ${warm.acks.length} orders, ${drained ? 'drained' : 'NOT drained'}`);
    }

    const phases: PhaseReport[] = [];
    for (const phase of settings.phases) {
      if (hooks.signal?.aborted) break;
      phases.push(await runPhase(phase, specFor(phase), target, state, dbLabels, idle, settings, hooks));
    }
    const stock = await checkStock(state, allProducts, phases.length ? `bench-${runId}` : null);
    return { bus: target.bus, settings, startedAt, cpus: os.cpus().length, loadAverage: { start: loadStart, end: os.loadavg() }, idle, phases, stock };
  } finally {
    await state.close();
  }
}

function phaseLabel(phase: PhaseName, s: BenchSettings): string {
  if (phase === 'closed') return `closed loop, ${s.customers} customers, ${s.products} products`;
  if (phase === 'open') return `open loop, ${s.rate}/s Poisson, ${s.products} products`;
  return `hot product, closed loop, ${s.customers} customers`;
}

async function runPhase(
  phase: PhaseName,
  spec: LoadSpec,
  target: BenchTarget,
  state: ShopState,
  dbLabels: Map<string, string>,
  idle: IdleReport,
  settings: BenchSettings,
  hooks: RunHooks,
): Promise<PhaseReport> {
  const log = hooks.log ?? (() => undefined);
  const label = phaseLabel(phase, settings);
  const loadStart = os.loadavg();
  log(`${label}: ${settings.durationS} s (load average ${formatLoad(loadStart)})`);
  const sqlBefore = sqlCounts();
  const textsBefore = sqlTextCounts();
  const metricsBefore = await scrapeDbQueries(target);
  const t0 = Date.now();
  const load = await hooks.runLoad(spec);
  const loadEnd = os.loadavg();

  const drained = await drain(state, spec.keyPrefix, load.acks.length, settings.drainTimeoutS, hooks);
  // SQL of the phase: until the follow-up work (mails, events after the last confirmation) is done too.
  await waitQuiet(idle, 30_000);
  const windowS = (Date.now() - t0) / 1000;
  const sql = sqlDelta(sqlBefore, sqlCounts());
  const textsAfter = sqlTextCounts();
  const metricsAfter = await scrapeDbQueries(target);

  const orders = await state.ordersWithPrefix(spec.keyPrefix);
  const acks = load.acks;
  const phaseEnd = load.endsAt;
  const confirmed = orders.filter((o) => o.confirmedAt !== null);
  const lastFinal = orders.reduce((m, o) => Math.max(m, o.finalAt ?? 0), phaseEnd);
  const durationS = (load.endsAt - load.startedAt) / 1000;
  const outcomes: Record<string, number> = {};
  for (const o of orders) {
    // An order not final says where its payment stands (e.g. PENDING HELD_FOR_REVIEW: a fraud hold).
    const k = o.status === 'REJECTED' ? `REJECTED ${o.rejectionReason ?? ''}`.trim() : o.status === 'PENDING' ? `PENDING ${o.paymentStatus ?? 'no payment'}` : o.status;
    outcomes[k] = (outcomes[k] ?? 0) + 1;
  }
  const n = Math.max(orders.length, 1);
  const perOrderByDb: Record<string, number> = {};
  let gross = 0;
  let net = 0;
  let tx = 0;
  for (const [db, c] of Object.entries(sql)) {
    const name = dbLabels.get(db);
    if (!name) continue; // another database of the cluster (not the shop's)
    const idleStatements = (idle.sqlPerSByDb[name] ?? 0) * windowS;
    perOrderByDb[name] = Math.max(0, c.statements - idleStatements) / n;
    gross += c.statements;
    net += Math.max(0, c.statements - idleStatements);
    tx += c.tx;
  }
  const metricsPerOrder: Record<string, number> = {};
  for (const s of SERVICES) metricsPerOrder[s] = Math.max(0, (metricsAfter[s] ?? 0) - (metricsBefore[s] ?? 0) - (idle.metricsPerS[s] ?? 0) * windowS) / n;

  const report: PhaseReport = {
    phase,
    label,
    durationS,
    sent: load.sent,
    acknowledged: acks.length,
    created: orders.length,
    errors: load.errors,
    dropped: load.dropped,
    maxScheduleLagMs: load.maxScheduleLagMs,
    placedPerS: acks.filter((a) => a.at <= phaseEnd).length / durationS,
    confirmedInPhasePerS: confirmed.filter((o) => o.confirmedAt! <= phaseEnd).length / durationS,
    confirmedToDrainPerS: confirmed.length / ((lastFinal - load.startedAt) / 1000),
    drainS: drained ? Math.max(0, lastFinal - phaseEnd) / 1000 : null,
    placeOrderMs: quantiles(acks.map((a) => a.latencyMs)),
    placedToConfirmedMs: quantiles(confirmed.map((o) => o.confirmedAt! - o.createdAt)),
    outcomes,
    sql: { perOrderByDb, perOrder: net / n, perOrderGross: gross / n, txShare: gross ? tx / gross : 0, metricsPerOrder, windowS, ...statementProfile(textsBefore, textsAfter, dbLabels, n) },
    correctness: phaseCorrectness(acks, orders, load),
    loadAverage: { start: loadStart, end: loadEnd },
  };
  log(
    `  placed ${report.placedPerS.toFixed(1)}/s, confirmed ${report.confirmedInPhasePerS.toFixed(1)}/s in the phase, ` +
      `${drained ? `drained ${report.drainS!.toFixed(1)} s after` : `NOT drained after ${settings.drainTimeoutS} s`} (load average ${formatLoad(loadEnd)})`,
  );
  return report;
}

/** Waits until every order of the phase is final (bounded); answers whether it happened. */
async function drain(state: ShopState, prefix: string, acknowledged: number, timeoutS: number, hooks: RunHooks): Promise<boolean> {
  const deadline = Date.now() + timeoutS * 1000;
  let lastLog = Date.now();
  for (;;) {
    const { total, pending } = await state.progress(prefix);
    if (pending === 0 && total >= acknowledged) return true;
    if (Date.now() > deadline || hooks.signal?.aborted) return false;
    if (Date.now() - lastLog >= 10_000) {
      hooks.log?.(`  draining: ${pending} of ${total} orders still PENDING`);
      lastLog = Date.now();
    }
    await sleep(500);
  }
}

/** The order checks of one run of load: nothing acknowledged lost, left pending or duplicated, no order nobody asked for. */
export function phaseCorrectness(acks: readonly Ack[], orders: readonly OrderState[], load: LoadResult): PhaseCorrectness {
  const byId = new Map(orders.map((o) => [o.id, o]));
  const keys = new Map<string, number>();
  for (const o of orders) keys.set(o.key, (keys.get(o.key) ?? 0) + 1);
  const ackKeysById = new Map<string, Set<string>>();
  for (const a of acks) (ackKeysById.get(a.orderId) ?? ackKeysById.set(a.orderId, new Set()).get(a.orderId)!).add(a.key);
  const ackedKeys = new Set(acks.map((a) => a.key));
  const uncertain = new Set(load.uncertainKeys);
  let lost = 0;
  let notFinal = 0;
  for (const a of acks) {
    const o = byId.get(a.orderId);
    if (!o || o.key !== a.key) lost++;
    else if (!FINAL_STATUSES.has(o.status)) notFinal++;
  }
  const duplicated = [...keys.values()].filter((c) => c > 1).length + [...ackKeysById.values()].filter((s) => s.size > 1).length;
  const extra = orders.filter((o) => !ackedKeys.has(o.key));
  return {
    acknowledged: acks.length,
    lost,
    notFinal,
    duplicated,
    ordersOfFailedRequests: extra.filter((o) => uncertain.has(o.key)).length,
    unexplained: extra.filter((o) => !uncertain.has(o.key)).length,
  };
}

/** Stock checks over every benchmark product and order of the run (retried for a while: releases after a rejection are asynchronous). */
export async function checkStock(state: ShopState, productIds: readonly string[], prefix: string | null): Promise<StockCorrectness> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const result = await stockOnce(state, productIds, prefix);
    const clean = result.oversoldUnits + result.negative + result.reservedMismatch + result.orderInventoryMismatch === 0;
    if (clean || Date.now() > deadline) return result;
    await sleep(1_000);
  }
}

async function stockOnce(state: ShopState, productIds: readonly string[], prefix: string | null): Promise<StockCorrectness> {
  const stock = await state.stock(productIds);
  const orders = prefix ? await state.ordersWithPrefix(prefix) : [];
  const lines = await state.reservations(orders.map((o) => o.id));
  const held = new Map<string, Map<string, number>>(); // order → product → RESERVED quantity
  for (const l of lines) {
    if (l.status !== 'RESERVED') continue;
    (held.get(l.orderId) ?? held.set(l.orderId, new Map()).get(l.orderId)!).set(l.productId, l.quantity);
  }
  const taken = new Map<string, number>(); // product → units confirmed or held by a pending order
  let orderInventoryMismatch = 0;
  for (const o of orders) {
    const h = held.get(o.id);
    if (o.status === 'CONFIRMED') {
      const expected = new Map<string, number>();
      for (const i of o.items) expected.set(i.productId, (expected.get(i.productId) ?? 0) + i.quantity);
      const same = h !== undefined && h.size === expected.size && [...expected].every(([p, q]) => h.get(p) === q);
      if (!same) orderInventoryMismatch++;
      for (const [p, q] of expected) taken.set(p, (taken.get(p) ?? 0) + q);
    } else if (o.status === 'PENDING') {
      for (const [p, q] of h ?? []) taken.set(p, (taken.get(p) ?? 0) + q);
    } else if (h && h.size > 0) {
      orderInventoryMismatch++; // rejected or cancelled but still holding stock
    }
  }
  let oversoldUnits = 0;
  let negative = 0;
  let reservedMismatch = 0;
  for (const s of stock) {
    oversoldUnits += Math.max(0, (taken.get(s.productId) ?? 0) - s.initialOnHand);
    if (s.onHand < 0 || s.reserved < 0 || s.reserved > s.onHand) negative++;
    if (s.reserved !== s.openReservations) reservedMismatch++;
  }
  if (stock.length !== productIds.length) negative += productIds.length - stock.length; // a missing record counts as a failure
  return { products: stock.length, oversoldUnits, negative, reservedMismatch, orderInventoryMismatch };
}

/** Database name → label (users, catalog, inventory, orders, eventbus). */
function databaseLabels(target: BenchTarget): Map<string, string> {
  const labels = new Map<string, string>();
  for (const name of [...SERVICES, 'eventbus'] as const) {
    const url = target.databaseUrl(name);
    if (url) labels.set(decodeURIComponent(new URL(url).pathname.slice(1)), name);
  }
  return labels;
}

/** The statements of a phase by text, per order, most frequent first (empty without `--sql-profile`). */
function statementProfile(before: SqlTextCounts, after: SqlTextCounts, dbLabels: Map<string, string>, orders: number): Pick<SqlReport, 'byStatement'> {
  if (after.size === 0) return {};
  const rows: Array<{ db: string; text: string; perOrder: number }> = [];
  for (const [key, count] of after) {
    const [db = '?', text = ''] = key.split('\t');
    const label = dbLabels.get(db);
    const delta = count - (before.get(key) ?? 0);
    if (label && delta > 0) rows.push({ db: label, text, perOrder: delta / orders });
  }
  return { byStatement: rows.sort((a, b) => b.perOrder - a.perOrder).slice(0, 40) };
}

function byLabel(counts: SqlCounts, labels: Map<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const label of labels.values()) out[label] = 0;
  for (const [db, c] of Object.entries(counts)) {
    const label = labels.get(db);
    if (label) out[label] = c.statements;
  }
  return out;
}

async function measureIdle(target: BenchTarget, labels: Map<string, string>, seconds: number): Promise<IdleReport> {
  const before = sqlCounts();
  const mBefore = await scrapeDbQueries(target);
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const elapsed = (Date.now() - t0) / 1000;
  const raw = sqlDelta(before, sqlCounts());
  const delta = byLabel(raw, labels);
  const mAfter = await scrapeDbQueries(target);
  return {
    seconds: elapsed,
    sqlPerSByDb: Object.fromEntries(Object.entries(delta).map(([k, v]) => [k, v / elapsed])),
    metricsPerS: Object.fromEntries(SERVICES.map((s) => [s, ((mAfter[s] ?? 0) - (mBefore[s] ?? 0)) / elapsed])),
    totalPerS: Object.values(raw).reduce((a, c) => a + c.statements, 0) / elapsed,
  };
}

/** Waits until the shop's statement rate is back near idle (one-second windows), at most `maxMs`. */
async function waitQuiet(idle: IdleReport, maxMs: number): Promise<void> {
  const idleTotal = idle.totalPerS;
  const total = (c: SqlCounts) => Object.values(c).reduce((a, b) => a + b.statements, 0);
  const deadline = Date.now() + maxMs;
  let last = total(sqlCounts());
  while (Date.now() < deadline) {
    await sleep(1_000);
    const now = total(sqlCounts());
    if (now - last <= idleTotal * 1.5 + 5) return;
    last = now;
  }
}

/** `db_query_duration_seconds_count` summed over outcomes, per service, from each subgraph's /metrics. */
async function scrapeDbQueries(target: BenchTarget): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  await Promise.all(
    SERVICES.map(async (s) => {
      const res = await fetch(`http://127.0.0.1:${target.servicePorts[s]}/metrics`).catch(() => null);
      const text = res?.ok ? await res.text() : '';
      let sum = 0;
      for (const line of text.split('\n')) {
        if (!line.startsWith('db_query_duration_seconds_count{') || !line.includes(`service="${s}"`)) continue;
        sum += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
      }
      out[s] = sum;
    }),
  );
  return out;
}

async function gql<T>(url: string, query: string, variables: Record<string, unknown>, token: string): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (body.errors?.length || !body.data) throw new Error(`GraphQL failed: ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

export function quantiles(values: readonly number[]): Quantiles {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), p99: quantile(sorted, 0.99), max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN };
}

export function formatLoad(l: readonly number[]): string {
  return l.map((x) => x.toFixed(2)).join(' ');
}

function formatRecord(r: Record<string, number>): string {
  return Object.entries(r)
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(', ');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
