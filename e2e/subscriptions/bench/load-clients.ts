/**
 * The client side of load.bench.ts, in a process of its own (so the clients' CPU is not the
 * gateway's): opens graphql-ws connections to the gateway, subscribes to stockChanged and records
 * each event's latency from the stock change (`updatedAt`, stamped in the inventory transaction)
 * to its arrival here. Driven over IPC by load.bench.ts.
 */
import type { Client } from 'graphql-ws';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

type Command =
  | { cmd: 'open'; url: string; productIds: string[]; connections: number; perConnection: number }
  | { cmd: 'stats' }
  | { cmd: 'reset' }
  | { cmd: 'close' };

const QUERY = 'subscription($ids: [ID!]!) { stockChanged(productIds: $ids) { productId available updatedAt product { name } } }';
const clients: Client[] = [];
let latencies: number[] = [];
let errors = 0;
let nextProduct = 0;

function send(message: unknown): void {
  process.send?.(message);
}

async function open(url: string, productIds: string[], connections: number, perConnection: number): Promise<void> {
  let failed = 0;
  for (let batch = 0; batch < connections; batch += 100) {
    const opening: Array<Promise<void>> = [];
    for (let i = batch; i < Math.min(connections, batch + 100); i++) {
      opening.push(
        new Promise<void>((resolve) => {
          const client = createClient({
            url,
            webSocketImpl: WebSocket,
            retryAttempts: 0,
            lazy: false,
            onNonLazyError: () => {
              failed++;
              resolve();
            },
            on: { connected: () => resolve() },
          });
          clients.push(client);
          for (let s = 0; s < perConnection; s++) {
            const productId = productIds[nextProduct++ % productIds.length]!;
            client.subscribe(
              { query: QUERY, variables: { ids: [productId] } },
              {
                next: (result: any) => {
                  const at = Date.parse(result.data?.stockChanged?.updatedAt ?? '');
                  if (Number.isFinite(at)) latencies.push(Date.now() - at);
                  else errors++;
                },
                error: () => void errors++,
                complete: () => undefined,
              },
            );
          }
        }),
      );
    }
    await Promise.all(opening);
  }
  send({ opened: clients.length, failed });
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : Number.NaN;
}

process.on('message', (message: Command) => {
  switch (message.cmd) {
    case 'open':
      void open(message.url, message.productIds, message.connections, message.perConnection);
      return;
    case 'reset':
      latencies = [];
      errors = 0;
      send({ reset: true });
      return;
    case 'stats': {
      const sorted = [...latencies].sort((a, b) => a - b);
      send({ received: sorted.length, errors, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN });
      return;
    }
    case 'close':
      void Promise.all(clients.map(async (c) => c.dispose())).then(() => process.exit(0));
      return;
  }
});
