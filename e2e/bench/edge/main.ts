/**
 * `npm run bench:edge [-- --seconds 5] [--rounds 3] [--concurrency 16] [--redis-port 16399]`
 *
 * What the gateway's edge costs per request: the same gateway (committed supergraph, a query the
 * gateway answers itself, so no subgraph is involved) run as peers side by side, interleaved round
 * by round, with a closed loop of `--concurrency` clients from 256 client addresses (X-Forwarded-For,
 * one trusted hop) against each in turn:
 *   off       rate limits off, safelist off (the baseline)
 *   memory    rate limits on, counters in this process (budgets too large to refuse)
 *   redis     rate limits on, counters in a real redis-server (its own, on --redis-port)
 *   safelist  rate limits off, safelist required, the operation sent by id alone
 * Prints one table: requests per second (median of the rounds), the ratio to `off`, p50/p99 latency
 * and the load average. Loopback only; stops everything it started.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { RunningGateway } from '@shop/gateway';
import { jwtVerifier, startGateway } from '@shop/gateway';
import { createLogger } from '@shop/platform';
import { startRedisServer } from '@shop/platform/testing';

const ROOT = path.resolve(__dirname, '../../..');
const QUERY = 'query Edge { __typename }';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
    'redis-port': { type: 'string', default: '16399' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);

interface Sample {
  readonly rps: number;
  readonly latencies: number[];
}

async function closedLoop(url: string, body: string): Promise<Sample> {
  const latencies: number[] = [];
  const until = Date.now() + seconds * 1000;
  let errors = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      let n = worker;
      while (Date.now() < until) {
        const started = performance.now();
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': `198.18.0.${n++ % 256}` }, body });
        await res.arrayBuffer();
        if (res.status !== 200) errors++;
        latencies.push(performance.now() - started);
      }
    }),
  );
  if (errors) throw new Error(`${errors} answers were not 200: the peers must not refuse anything`);
  return { rps: latencies.length / seconds, latencies };
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

async function main(): Promise<void> {
  const dataDir = path.join(ROOT, `.data/bench-edge-${randomBytes(3).toString('hex')}`);
  const redis = await startRedisServer({ port: Number(values['redis-port']), dataDir });
  const manifestDir = mkdtempSync(path.join(os.tmpdir(), 'bench-edge-'));
  const manifest = path.join(manifestDir, 'manifest.json');
  const id = 'edge-bench';
  writeFileSync(manifest, JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id, name: 'Edge', type: 'query', body: QUERY }] }));
  const secret = randomBytes(32).toString('base64url');
  const big = { exemptAddresses: [], anonymousRequests: 1e9, userRequests: 1e9, mutations: 1e9, cost: 1e12, keyPrefix: `bench:${randomBytes(3).toString('hex')}` };
  const base = { port: 0, internalAuthSecret: secret, verifier: jwtVerifier(secret), nodeEnv: 'production' as const, trustProxy: 1, logger: createLogger('gateway', 'error'), subgraphUrls: { users: 'http://127.0.0.1:9/graphql', catalog: 'http://127.0.0.1:9/graphql', inventory: 'http://127.0.0.1:9/graphql', orders: 'http://127.0.0.1:9/graphql' } };
  const peers: Array<{ name: string; gateway: RunningGateway; body: string }> = [];
  try {
    const plain = JSON.stringify({ query: QUERY });
    peers.push({ name: 'off', gateway: await startGateway({ ...base, rateLimits: { enabled: false } }), body: plain });
    peers.push({ name: 'memory', gateway: await startGateway({ ...base, rateLimits: big }), body: plain });
    peers.push({ name: 'redis', gateway: await startGateway({ ...base, rateLimits: big, redisUrl: redis.url }), body: plain });
    peers.push({ name: 'safelist', gateway: await startGateway({ ...base, rateLimits: { enabled: false }, persistedOperations: { mode: 'require', manifest } }), body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: id } } }) });
    const samples = new Map<string, Sample[]>(peers.map((p) => [p.name, []]));
    for (const p of peers) await closedLoop(p.gateway.url, p.body); // warm-up, not reported
    for (let round = 0; round < rounds; round++) {
      // Interleaved, and the order rotates each round so no peer always runs first.
      for (let i = 0; i < peers.length; i++) {
        const p = peers[(i + round) % peers.length]!;
        samples.get(p.name)!.push(await closedLoop(p.gateway.url, p.body));
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const baseline = median(samples.get('off')!.map((s) => s.rps));
    const lines = [`edge bench: ${rounds} rounds x ${seconds} s per peer, ${concurrency} clients, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`, '| peer | req/s (median) | vs off | p50 ms | p99 ms |', '|---|---|---|---|---|'];
    for (const [name, list] of samples) {
      const rps = median(list.map((s) => s.rps));
      const all = list.flatMap((s) => s.latencies).sort((a, b) => a - b);
      lines.push(`| ${name} | ${rps.toFixed(0)} | ${(rps / baseline).toFixed(2)} | ${quantile(all, 0.5).toFixed(2)} | ${quantile(all, 0.99).toFixed(2)} |`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const p of peers) await p.gateway.stop();
    await redis.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(manifestDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:edge failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
