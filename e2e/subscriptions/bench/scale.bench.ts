/**
 * Subscriptions at scale (issue 22): N graphql-ws connections on one gateway process, each with one
 * `stockChanged` subscription, and the delivery of stock changes to all of them. Not a test (jest
 * does not run it); run by hand, loopback only:
 *
 *   npm run bench:subscriptions
 *
 * (which raises the open-files limit first: `ulimit -n` is inherited by the gateway and the client
 * processes). It starts a whole shop on Kafka (the test infrastructure: TEST_DATABASE_URL /
 * TEST_KAFKA_BROKERS, or started for it), the standalone gateway (gateway/src/main.ts) as a process
 * of its own on BENCH_GATEWAY_PORT (default 4660) with GATEWAY_WORKERS=BENCH_WORKERS (default 1),
 * and BENCH_CLIENT_PROCESSES (default 4) client processes (scale-clients.ts), each bound to its own
 * loopback source addresses (127.0.<process>.2, .3, …: one source address has ~28 000 ephemeral
 * ports towards one gateway port). For each level of BENCH_CONNECTIONS (default
 * "10000,25000,50000", cumulative) it opens the connections, waits until the gateway holds them,
 * measures the gateway's idle memory, then makes BENCH_EVENTS (default 5) stock changes
 * BENCH_EVENT_INTERVAL_MS (default 1000) apart over BENCH_PRODUCTS (default 1: every client
 * follows the same product, so every change goes to every connection) and reports:
 * deliveries expected / received, missing, duplicated, latency from the change (the stock row's
 * `updatedAt`) to the arrival at the client p50/p95/p99/max, the gateway's RSS (all its
 * processes) and CPU seconds during the round, bytes of RSS and of JS heap per idle connection (what the level added, over the connections it added), and the load
 * average (`uptime`) at the end of the round. It stops at the first level whose connections fail.
 *
 * BENCH_GATEWAY_NODE_OPTIONS sets the gateway's NODE_OPTIONS (e.g. `--cpu-prof --cpu-prof-dir=…`).
 *
 * BENCH_RESUME=1 adds the resume scenario after the last level: BENCH_RESUME_CLIENTS (default
 * 1 000, spread over the client processes) drop for BENCH_RESUME_AWAY_MS (default 10 000) while
 * BENCH_EVENTS changes happen, then all reconnect at once with `extensions.resumeFrom` set to the
 * last `extensions.cursor` they received (resumable subscriptions, api-next) while BENCH_EVENTS more
 * changes go out; it prints, per client, who got every event exactly once and in order, and who
 * had events missing, duplicated (or again from before the drop), out of order, CURSOR_EXPIRED or
 * another error, and how long the replay took from the resubscribe.
 */
import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually, testKafkaBrokers } from '@shop/platform/testing';
import { demoProducts } from '../../orders/orders-flow';
import type { GatewayProcess } from '../../support/gateway-process';
import { gatewayEnvFor, startGatewayProcess } from '../../support/gateway-process';
import { startTestShop } from '../../support/harness';
import { ADJUST, sample } from '../support';
import type { ClientCommand, ResumeStats, RoundStats } from './scale-clients';

const numberSetting = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
};
const LEVELS = (process.env['BENCH_CONNECTIONS'] ?? '10000,25000,50000').split(',').map(Number);
const EVENTS = numberSetting('BENCH_EVENTS', 5);
const INTERVAL_MS = numberSetting('BENCH_EVENT_INTERVAL_MS', 1_000);
const PRODUCTS = numberSetting('BENCH_PRODUCTS', 1);
const CLIENT_PROCESSES = numberSetting('BENCH_CLIENT_PROCESSES', 4);
const WORKERS = numberSetting('BENCH_WORKERS', 1);
const PORT = numberSetting('BENCH_GATEWAY_PORT', 4660);
const RESUME = process.env['BENCH_RESUME'] === '1';
const RESUME_CLIENTS = numberSetting('BENCH_RESUME_CLIENTS', 1_000);
const RESUME_AWAY_MS = numberSetting('BENCH_RESUME_AWAY_MS', 10_000);
/** Connections per loopback source address (below the ~28 000 ephemeral ports of one). */
const PER_ADDRESS = 20_000;

class ClientProcess {
  private readonly child: ChildProcess;
  private readonly waiting: Array<(answer: unknown) => void> = [];
  readonly addresses: string[] = [];

  constructor(readonly index: number) {
    this.child = fork(path.join(__dirname, 'scale-clients.ts'), { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    this.child.on('message', (answer) => this.waiting.shift()?.(answer));
  }

  ask<T>(command: ClientCommand): Promise<T> {
    return new Promise((resolve) => {
      this.waiting.push((answer) => resolve(answer as T));
      this.child.send(command);
    });
  }

  /** Source addresses enough for `connections` in total on this process. */
  addressesFor(connections: number): string[] {
    while (this.addresses.length * PER_ADDRESS < connections) this.addresses.push(`127.0.${this.index + 1}.${this.addresses.length + 2}`);
    return this.addresses;
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ cmd: 'close' } satisfies ClientCommand);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    this.child.kill();
  }
}

/** RSS (bytes) and CPU (seconds) of the gateway's processes, from /proc. */
function gatewayUsage(pids: readonly number[]): { rss: number; cpu: number } {
  let rss = 0;
  let cpu = 0;
  const ticks = 100; // USER_HZ on Linux
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      rss += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      cpu += (Number(fields[11]) + Number(fields[12])) / ticks;
    } catch {
      // A worker that exited: it holds nothing any more.
    }
  }
  return { rss, cpu };
}

/** This process's open-files limit (what the gateway and the clients inherit). */
function openFilesLimit(): string {
  return /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 'unknown';
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : Number.NaN;
}

const loadAverage = (): string => os.loadavg().map((l) => l.toFixed(1)).join(' ');
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The resume scenario: RESUME_CLIENTS clients (spread over the client processes) drop for
 * RESUME_AWAY_MS while EVENTS changes happen, reconnect all at once with `extensions.resumeFrom` =
 * the last `extensions.cursor` they received, then EVENTS more changes go out while (and after)
 * they replay. Per client: exactly the 2 × EVENTS changes, once each, in order, is complete.
 */
async function resumeScenario(clients: readonly ClientProcess[], url: string, change: (i: number) => Promise<{ productId: string; available: number }>): Promise<void> {
  const share = (i: number) => Math.floor(RESUME_CLIENTS / clients.length) + (i < RESUME_CLIENTS % clients.length ? 1 : 0);
  const drops = await Promise.all(clients.map(async (c, i) => c.ask<{ dropped: number; withCursor: number }>({ cmd: 'drop', count: share(i) })));
  const withCursor = drops.reduce((n, d) => n + d.withCursor, 0);
  if (withCursor === 0) throw new Error('resume scenario: no dropped client had an extensions.cursor (every event should carry one)');
  const expected: Record<string, number[]> = {};
  const changeAndRecord = async (i: number) => {
    const { productId, available } = await change(i);
    (expected[productId] ??= []).push(available);
  };
  const droppedAt = Date.now();
  for (let i = 0; i < EVENTS; i++) {
    await changeAndRecord(i);
    await sleep(RESUME_AWAY_MS / EVENTS);
  }
  const awayMs = Date.now() - droppedAt;
  const awayLoad = loadAverage();
  // Every dropped client reconnects at once; the live changes start while they replay (the gap-free switch).
  const reconnecting = Promise.all(clients.map(async (c) => c.ask<{ reconnected: number; retries: number }>({ cmd: 'resume', url, missed: EVENTS })));
  for (let i = 0; i < EVENTS; i++) {
    await changeAndRecord(EVENTS + i);
    await sleep(INTERVAL_MS);
  }
  await reconnecting;
  const collect = async (): Promise<ResumeStats[]> => Promise.all(clients.map(async (c) => c.ask<ResumeStats>({ cmd: 'resumed', expected })));
  let stats = await collect();
  const deadline = Date.now() + 120_000;
  const sum = (key: Exclude<keyof ResumeStats, 'errors' | 'replayMs'>) => stats.reduce((n, s) => n + s[key], 0);
  // Until every client has every event or ended (an error, a closed connection); then a little
  // longer, so that a duplicate, if any, arrives before the count.
  while (sum('everyEvent') + sum('cursorExpired') + sum('otherErrors') + sum('closed') < sum('dropped') && Date.now() < deadline) {
    await sleep(1_000);
    stats = await collect();
  }
  await sleep(2_000);
  stats = await collect();
  const errors: Record<string, number> = {};
  for (const s of stats) for (const [code, n] of Object.entries(s.errors)) errors[code] = (errors[code] ?? 0) + n;
  const replay = stats.flatMap((s) => s.replayMs).sort((a, b) => a - b);
  process.stdout.write(
    [
      '',
      `resume scenario: ${sum('dropped').toLocaleString('en')} clients dropped for ${(awayMs / 1000).toFixed(1)} s (load average then ${awayLoad}) while ${EVENTS} stock changes happened, reconnected at once with extensions.resumeFrom = their last extensions.cursor, then ${EVENTS} changes ${INTERVAL_MS} ms apart; expected per client: those ${EVENTS * 2} events, once each, in order`,
      '',
      '| clients dropped / with a cursor / reconnected | every event exactly once, in order | with events missing (events) | with duplicates (deliveries) | out of order | CURSOR_EXPIRED | other errors | connections closed | resubscribe → missed events delivered p50 / p95 / max | load average (1/5/15 min) |',
      '|---|---|---|---|---|---|---|---|---|---|',
      `| ${sum('dropped').toLocaleString('en')} / ${sum('withCursor').toLocaleString('en')} / ${sum('reconnected').toLocaleString('en')}${sum('retries') ? ` (${sum('retries')} handshakes retried)` : ''} | ${sum('complete').toLocaleString('en')} | ${sum('clientsMissing')} (${sum('missing')}) | ${sum('clientsDuplicated')} (${sum('duplicated')}) | ${sum('outOfOrder')} | ${sum('cursorExpired')} | ${sum('otherErrors')}${Object.keys(errors).length ? ` ${JSON.stringify(errors)}` : ''} | ${sum('closed')} | ${percentile(replay, 50)} / ${percentile(replay, 95)} / ${replay.at(-1) ?? 'n/a'} ms | ${loadAverage()} |`,
      '',
    ].join('\n'),
  );
}

async function main(): Promise<void> {
  const shop = await startTestShop({ bus: 'kafka', seed: true });
  let gateway: GatewayProcess | undefined;
  const clients = Array.from({ length: CLIENT_PROCESSES }, (_, i) => new ClientProcess(i));
  try {
    const products = (await demoProducts(shop)).slice(0, PRODUCTS);
    const admin = await shop.tokenFor({ roles: ['ADMIN'] });
    gateway = await startGatewayProcess(
      gatewayEnvFor(shop, testKafkaBrokers(), {
        PORT: String(PORT),
        GATEWAY_WORKERS: String(WORKERS),
        // A benchmark of delivery, not of the rate budgets (every connection would count against its address).
        RATE_LIMIT_ENABLED: 'false',
        // e.g. "--cpu-prof --cpu-prof-dir=/path": profile the gateway (written when it stops).
        ...(process.env['BENCH_GATEWAY_NODE_OPTIONS'] ? { NODE_OPTIONS: process.env['BENCH_GATEWAY_NODE_OPTIONS'] } : {}),
      }),
    );
    const pids = WORKERS > 1 ? [gateway.child.pid!, ...gateway.pids] : gateway.pids;
    const url = `ws://127.0.0.1:${PORT}/graphql`;
    const metricsUrl = `http://127.0.0.1:${PORT}/metrics`;
    const activeSubscriptions = async () => sample(await (await fetch(metricsUrl)).text(), 'gateway_subscriptions_active');
    await sleep(2_000);
    const idle = gatewayUsage(pids);
    process.stdout.write(`gateway pids ${pids.join(',')}, ${mib(idle.rss)} MiB RSS with no connection; open files limit ${openFilesLimit()}; load average ${loadAverage()}\n`);

    const heapUsed = async () => sample(await (await fetch(metricsUrl)).text(), 'nodejs_heap_size_used_bytes');
    const idleHeap = await heapUsed();
    let previous = { rss: idle.rss, heap: idleHeap };
    const rows: string[] = [];
    let connections = 0;
    let level = 0;
    for (const target of LEVELS) {
      const adding = target - connections;
      if (adding <= 0) continue;
      const openStarted = Date.now();
      const cpuBeforeOpen = gatewayUsage(pids).cpu;
      const opened = await Promise.all(
        clients.map(async (c, i) => {
          const share = Math.floor(adding / clients.length) + (i < adding % clients.length ? 1 : 0);
          const total = Math.ceil(target / clients.length);
          return c.ask<{ opened: number; failed: number; retries: number; reasons: Record<string, number> }>({ cmd: 'open', url, productIds: products.map((p) => p.id), connections: share, localAddresses: c.addressesFor(total) });
        }),
      );
      const failed = opened.reduce((n, o) => n + o.failed, 0);
      const retried = opened.reduce((n, o) => n + o.retries, 0);
      const reasons = opened.map((o) => JSON.stringify(o.reasons)).join(' ');
      if (failed) {
        rows.push(`| ${target.toLocaleString('en')} | ${failed} connections failed (${reasons}) | | | | | | | | ${loadAverage()} |`);
        break;
      }
      connections = target;
      await eventually(async () => (await activeSubscriptions()) >= connections, 300_000, 500);
      const openSeconds = (Date.now() - openStarted) / 1000;
      const openCpu = gatewayUsage(pids).cpu - cpuBeforeOpen;
      await sleep(3_000);
      const held = gatewayUsage(pids);
      const heap = await heapUsed();
      // Per connection: everything over the gateway with no connection (warm-up included: an upper
      // bound), and what this level's connections added (noisier: RSS and heap move by whole chunks).
      const overIdle = { rss: (held.rss - idle.rss) / connections, heap: (heap - idleHeap) / connections };
      const marginal = { rss: (held.rss - previous.rss) / adding, heap: (heap - previous.heap) / adding };
      previous = { rss: held.rss, heap };

      await Promise.all(clients.map(async (c) => c.ask({ cmd: 'reset' })));
      const expected: Record<string, number> = {};
      const before = gatewayUsage(pids);
      for (let i = 0; i < EVENTS; i++) {
        const product = products[(level * EVENTS + i) % products.length]!;
        const res = await shop.gql(ADJUST, { id: product.id, delta: 1 }, admin);
        if (res.errors) throw new Error(JSON.stringify(res.errors));
        expected[product.id] = (expected[product.id] ?? 0) + 1;
        await sleep(INTERVAL_MS);
      }
      const want = connections * EVENTS;
      let stats: RoundStats[] = [];
      const deadline = Date.now() + 60_000;
      for (;;) {
        stats = await Promise.all(clients.map(async (c) => c.ask<RoundStats>({ cmd: 'stats', expected })));
        const missing = stats.reduce((n, s) => n + s.missing, 0);
        if (missing === 0 || Date.now() > deadline) break;
        await sleep(500);
      }
      const after = gatewayUsage(pids);
      const latencies = stats.flatMap((s) => s.latencies).sort((a, b) => a - b);
      const sum = (key: 'received' | 'missing' | 'duplicated' | 'closed') => stats.reduce((n, s) => n + s[key], 0);
      rows.push(
        `| ${connections.toLocaleString('en')} | ${want.toLocaleString('en')} / ${sum('received').toLocaleString('en')} | ${sum('missing')} | ${sum('duplicated')} | ${percentile(latencies, 50)} / ${percentile(latencies, 95)} / ${percentile(latencies, 99)} / ${latencies.at(-1) ?? 'n/a'} ms | ${mib(held.rss)} → ${mib(after.rss)} MiB | ${kib(overIdle.rss)} (${kib(overIdle.heap)}); added ${kib(marginal.rss)} (${kib(marginal.heap)}) | ${(after.cpu - before.cpu).toFixed(1)} s (open: ${openCpu.toFixed(1)} s in ${openSeconds.toFixed(0)} s${retried ? `, ${retried} handshakes retried ${reasons}` : ''}) | ${sum('closed')} | ${loadAverage()} |`,
      );
      process.stdout.write(`${rows.at(-1)}\n`);
      level++;
    }
    const header = [
      '',
      `${EVENTS} stock changes ${INTERVAL_MS} ms apart over ${products.length} product(s) per level; ${CLIENT_PROCESSES} client processes; GATEWAY_WORKERS=${WORKERS}`,
      '',
      '| connections | deliveries expected / received | missing | duplicated | change → arrival p50 / p95 / p99 / max | gateway RSS held → after the round | per idle connection: RSS (JS heap) over idle; of the added ones | gateway CPU in the round | connections closed | load average (1/5/15 min) |',
      '|---|---|---|---|---|---|---|---|---|---|',
    ];
    process.stdout.write([...header, ...rows, ''].join('\n'));

    if (RESUME && connections < RESUME_CLIENTS) process.stdout.write(`resume scenario: needs ${RESUME_CLIENTS} connections, ${connections} held\n`);
    if (RESUME && connections >= RESUME_CLIENTS) await resumeScenario(clients, url, async (i) => {
      const product = products[i % products.length]!;
      const res = await shop.gql(ADJUST, { id: product.id, delta: 1 }, admin);
      if (res.errors) throw new Error(JSON.stringify(res.errors));
      return { productId: product.id, available: (res.data as { adjustInventory: { available: number } }).adjustInventory.available };
    });
  } finally {
    await Promise.all(clients.map(async (c) => c.stop()));
    await gateway?.stop();
    await shop.stop();
  }
}

void main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error instanceof Error ? error.stack : error)}\n`);
    process.exit(1);
  },
);
