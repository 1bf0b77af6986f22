/**
 * The embedded default survives `kill -9` of its whole process tree: data committed before the
 * crash is there after `npm start` again, and every event committed before the crash is delivered
 * exactly once in effect (here: the demo catalogue's 50 product-created events, killed right after
 * their commit, still open exactly one stock record each, with the seeded quantity).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { eventually, freePortBlock } from '@shop/platform/testing';
import { postGraphQL } from '../support/harness';

const root = path.resolve(__dirname, '../..');

interface Started {
  readonly child: ChildProcess;
  readonly output: () => string;
}

function startShop(env: Record<string, string>): Started {
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: root,
    env: { ...process.env, ...env, LOG_LEVEL: 'info', NODE_ENV: 'development' },
    detached: true, // its own process group: we kill the whole tree like `kill -9 -<pgid>`
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  return { child, output: () => out };
}

/** Rethrows with the tail of the shop's own output, so a failure says why it did not start. */
function explain(started: Started): (error: unknown) => never {
  return (error) => {
    throw new Error(`${String(error)}\n--- npm start output (tail) ---\n${started.output().slice(-4_000)}`);
  };
}

function killTree(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    /* already gone */
  }
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => child.once('exit', resolve));
}

describe('npm start after SIGKILL of the whole process tree', () => {
  const dataDir = path.join(root, '.data', `e2e-crash-${randomBytes(3).toString('hex')}`);
  let base = 0;
  let env: Record<string, string> = {};
  let running: Started | undefined;

  beforeAll(async () => {
    mkdirSync(dataDir, { recursive: true });
    base = await freePortBlock();
    env = { DATA_DIR: dataDir, PORT: String(base), SUBGRAPH_PORT_BASE: String(base + 1), EMBEDDED_PG_PORT: String(base + 10), ADMIN_PASSWORD: 'admin-password-for-tests' };
  });
  afterAll(async () => {
    if (running) {
      killTree(running.child, 'SIGTERM');
      await Promise.race([exited(running.child), new Promise((r) => setTimeout(r, 15_000))]);
      killTree(running.child, 'SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should lose no committed data and no committed event', async () => {
    // 1. Start, and kill -9 the moment the demo catalogue (and its 50 events) has committed.
    const first = startShop(env);
    running = first;
    await eventually(() => first.output().includes('loaded demo catalogue') || first.child.exitCode !== null, 90_000, 20).catch(explain(first));
    killTree(first.child, 'SIGKILL');
    await exited(first.child);

    // 2. Start again: the relay publishes whatever the crash left in the outbox, consumers resume.
    const second = startShop(env);
    running = second;
    await eventually(() => second.output().includes('Shop supergraph is up'), 90_000, 100).catch(explain(second));
    expect(second.output()).not.toContain('loaded demo catalogue'); // the catalogue survived; no second seed

    // Exactly one stock record per product with the seeded quantity (no event lost, none applied twice).
    const pg = new Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:${base + 10}/inventory` });
    await pg.connect();
    await eventually(async () => (await pg.query('SELECT count(*)::int AS c FROM stock')).rows[0].c === 50, 30_000);
    const { rows } = await pg.query<{ c: number; s: number }>('SELECT count(*)::int AS c, sum(on_hand)::int AS s FROM stock');
    await pg.end();
    // What the catalog promised: the product-created events in the durable bus log (each once).
    const bus = new Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:${base + 10}/eventbus` });
    await bus.connect();
    const promised = await bus.query<{ events: number; stock: number }>(
      `SELECT count(DISTINCT value::jsonb->>'id')::int AS events, sum((value::jsonb->'data'->>'initialStock')::int)::int AS stock
       FROM (SELECT DISTINCT ON (value::jsonb->>'id') value FROM bus_message WHERE headers->>'event-type' = 'catalog.product-created.v1') e`,
    );
    await bus.end();
    expect(promised.rows[0]?.events).toBe(50);
    const seeded = promised.rows[0]!.stock;
    expect(rows[0]).toEqual({ c: 50, s: seeded });

    // And the same through the gateway: 50 products (none seeded twice) with their stock.
    const url = `http://127.0.0.1:${base}/graphql`;
    const stock = await eventually(async () => {
      const r = await postGraphQL(url, '{ products(first: 100) { totalCount edges { node { inventory { onHand } } } } }');
      const nodes: Array<{ inventory: { onHand: number } }> = r.data?.products.edges.map((e: any) => e.node) ?? [];
      return r.data ? { count: r.data.products.totalCount as number, total: nodes.reduce((sum, n) => sum + n.inventory.onHand, 0) } : null;
    }, 30_000, 250);
    expect(stock).toEqual({ count: 50, total: seeded });
  }, 240_000);
});
