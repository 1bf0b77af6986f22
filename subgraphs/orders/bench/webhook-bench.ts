/**
 * Payment webhook endpoint benchmark (issue 19): how fast POST /webhooks/payments answers, for a
 * new delivery (signature check + one transaction: the event id row and the outbox row), a replayed
 * one (signature check + the id insert that finds the row) and a refused one (bad signature, no
 * database work). The orders service alone on a scratch database (TEST_DATABASE_URL), the sandbox's
 * signing format; the kinds are interleaved request by request, then 50 new deliveries at once.
 *
 *   TEST_DATABASE_URL=postgres://u:p@host:5432/postgres npx tsx subgraphs/orders/bench/webhook-bench.ts
 *
 * Options: BENCH_ROUNDS (default 200 of each kind). Prints Markdown.
 */
import { randomBytes } from 'node:crypto';
import { signedDelivery } from '../src/payments/provider-webhooks';
import { SANDBOX_DEVELOPMENT_WEBHOOK_SECRET } from '../src/payments/sandbox-payment-provider';
import { startOrdersAlone } from '../tests/support/orders-harness';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 200);

function delivery(secret = SANDBOX_DEVELOPMENT_WEBHOOK_SECRET): { payload: string; signature: string } {
  const id = `pi_bench_${randomBytes(6).toString('hex')}`;
  return signedDelivery({ id: `evt_${randomBytes(8).toString('hex')}`, type: 'payment_intent.succeeded', object: { id, object: 'payment_intent', status: 'succeeded', metadata: {} } }, secret);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const h = await startOrdersAlone();
  const url = h.service.url.replace(/\/graphql$/, '/webhooks/payments');
  const post = async (d: { payload: string; signature: string }, expected: number): Promise<number> => {
    const started = performance.now();
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': d.signature }, body: d.payload });
    await res.arrayBuffer();
    if (res.status !== expected) throw new Error(`expected ${expected}, got ${res.status}`);
    return performance.now() - started;
  };
  try {
    const times: Record<'new' | 'replayed' | 'refused', number[]> = { new: [], replayed: [], refused: [] };
    for (let i = 0; i < 20; i++) await post(delivery(), 200); // warm-up
    for (let i = 0; i < ROUNDS; i++) {
      const d = delivery();
      times.new.push(await post(d, 200));
      times.replayed.push(await post(d, 200));
      times.refused.push(await post(delivery('whsec_wrong_secret'), 400));
    }
    const burstStarted = performance.now();
    const burst = await Promise.all(Array.from({ length: 50 }, () => post(delivery(), 200)));
    const burstWall = performance.now() - burstStarted;
    const rows = Object.entries(times).map(([kind, list]) => {
      const sorted = [...list].sort((a, b) => a - b);
      return `| ${kind} | ${list.length} | ${percentile(sorted, 50).toFixed(2)} | ${percentile(sorted, 95).toFixed(2)} | ${sorted.at(-1)!.toFixed(2)} |`;
    });
    const sortedBurst = [...burst].sort((a, b) => a - b);
    process.stdout.write(
      [
        '| delivery | n | p50 ms | p95 ms | max ms |',
        '|---|---:|---:|---:|---:|',
        ...rows,
        `| 50 new at once | 50 | ${percentile(sortedBurst, 50).toFixed(2)} | ${percentile(sortedBurst, 95).toFixed(2)} | ${sortedBurst.at(-1)!.toFixed(2)} |`,
        '',
        `50 at once: ${burstWall.toFixed(0)} ms wall`,
        '',
      ].join('\n'),
    );
  } finally {
    await h.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`webhook bench failed: ${String(error)}\n`);
  process.exit(1);
});
