/**
 * `npm start` beside other checkouts on one machine: two shops (different ports and data
 * directories) come up side by side, each Postgres with its socket in its own data directory; a
 * start that cannot get its port, or whose Postgres cannot start, says why in its first line; and
 * Ctrl-C (SIGINT to the terminal's whole process group: npm and node) stops the services first and
 * Postgres after them, with no connection error logged.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import path from 'node:path';
import { eventually, freePortBlock } from '@shop/platform/testing';
import { postGraphQL } from '../support/harness';

const root = path.resolve(__dirname, '../..');

interface Shop {
  readonly child: ChildProcess;
  readonly dataDir: string;
  readonly gatewayPort: number;
  readonly pgPort: number;
  output(): string;
  /** Resolves with the exit code (128 + n when killed by signal n). */
  readonly exited: Promise<number>;
}

/** `npm start` in its own process group, as a terminal runs it. */
async function npmStart(name: string, env: Record<string, string> = {}): Promise<Shop> {
  const base = await freePortBlock();
  const dataDir = path.join(root, '.data', `e2e-launcher-${name}-${randomBytes(3).toString('hex')}`);
  mkdirSync(dataDir, { recursive: true }); // 0755: as root, Postgres runs as the postgres user
  const settings = { DATA_DIR: dataDir, PORT: String(base), SUBGRAPH_PORT_BASE: String(base + 1), EMBEDDED_PG_PORT: String(base + 10), SEED_DEMO_DATA: 'false', ...env };
  let out = '';
  const child = spawn('npm', ['start', '--silent'], {
    cwd: root,
    env: { ...process.env, ...settings, LOG_LEVEL: 'info', NODE_ENV: 'development' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGINT' ? 2 : 9))));
  return { child, dataDir, gatewayPort: Number(settings.PORT), pgPort: Number(settings.EMBEDDED_PG_PORT), output: () => out, exited };
}

function signalGroup(shop: Shop, signal: NodeJS.Signals): void {
  try {
    process.kill(-shop.child.pid!, signal);
  } catch {
    /* already gone */
  }
}

async function up(shop: Shop): Promise<void> {
  await eventually(() => shop.output().includes('Shop supergraph is up') || shop.child.exitCode !== null, 120_000, 100);
  if (!shop.output().includes('Shop supergraph is up')) throw new Error(`npm start did not come up:\n${shop.output().slice(-4_000)}`);
}

/** The first line a user sees. */
function firstLine(shop: Shop): string {
  return shop.output().split('\n').find((l) => l.trim() !== '') ?? '';
}

/** The log lines (JSON) printed after `marker`. */
function linesAfter(shop: Shop, marker: string): Array<{ level: string; service: string; msg: string }> {
  const text = shop.output();
  return text
    .slice(text.indexOf(marker))
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: string; service: string; msg: string });
}

const started: Shop[] = [];
const servers: Server[] = [];
afterAll(async () => {
  for (const shop of started) signalGroup(shop, 'SIGTERM');
  await Promise.race([Promise.all(started.map((s) => s.exited)), new Promise((r) => setTimeout(r, 20_000))]);
  for (const shop of started) {
    signalGroup(shop, 'SIGKILL');
    rmSync(shop.dataDir, { recursive: true, force: true });
  }
  for (const server of servers) server.close();
});

describe('npm start beside other checkouts', () => {
  it('should bring two shops up side by side and stop each on Ctrl-C after its services drained, without a connection error', async () => {
    const a = await npmStart('a');
    const b = await npmStart('b');
    started.push(a, b);
    await Promise.all([up(a), up(b)]);

    for (const shop of [a, b]) {
      const res = await postGraphQL(`http://127.0.0.1:${shop.gatewayPort}/graphql`, '{ products(first: 1) { totalCount } }');
      expect(res.data).toEqual({ products: { totalCount: 0 } });
      // Each Postgres keeps its socket and lock in its own data directory, not in the shared /tmp.
      expect(existsSync(path.join(shop.dataDir, 'postgres', `.s.PGSQL.${shop.pgPort}`))).toBe(true);
      expect(existsSync(`/tmp/.s.PGSQL.${shop.pgPort}.lock`)).toBe(false);
    }

    // Ctrl-C in a's terminal: SIGINT to its whole process group. Postgres, in a group of its own,
    // is stopped by the launcher once the services have drained.
    const ctrlCAt = Date.now();
    signalGroup(a, 'SIGINT');
    await a.exited;
    const took = Date.now() - ctrlCAt;
    const after = linesAfter(a, '"msg":"shutting down"');
    expect(after.filter((l) => l.level !== 'info').map((l) => `${l.level}: ${l.msg}`)).toEqual([]);
    expect(a.output()).not.toMatch(/ECONNREFUSED|terminating connection/);
    const order = after.map((l) => `${l.service}: ${l.msg}`).filter((l) => / stopped$/.test(l));
    expect(order.at(-1)).toBe('launcher: embedded Postgres stopped');
    expect(order.filter((l) => l.endsWith('subgraph stopped'))).toHaveLength(4);
    expect(existsSync(path.join(a.dataDir, 'postgres', 'postmaster.pid'))).toBe(false); // Postgres is down, cleanly
    process.stdout.write(`launcher.test: Ctrl-C to exit took ${took} ms\n`);

    // The other checkout's shop did not notice.
    const res = await postGraphQL(`http://127.0.0.1:${b.gatewayPort}/graphql`, '{ products(first: 1) { totalCount } }');
    expect(res.data).toEqual({ products: { totalCount: 0 } });
    signalGroup(b, 'SIGINT');
    await b.exited;
    expect(linesAfter(b, '"msg":"shutting down"').filter((l) => l.level !== 'info')).toEqual([]);
  }, 240_000);

  it.each(['EMBEDDED_PG_PORT', 'PORT'])('should say in its first line that the port of %s is taken, naming the setting', async (setting) => {
    const port = await freePortBlock();
    const holder = createServer();
    servers.push(holder);
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    const shop = await npmStart('busy', { [setting]: String(port) });
    started.push(shop);
    expect(await shop.exited).not.toBe(0);
    const line = firstLine(shop);
    expect(line).toContain(`127.0.0.1:${port} is already in use`);
    expect(line).toContain(`set ${setting} to a free port`);
  }, 60_000);

  it("should say in its first line why Postgres could not start, in Postgres' own words", async () => {
    const shop = await npmStart('broken');
    started.push(shop);
    await up(shop);
    signalGroup(shop, 'SIGINT');
    await shop.exited;
    writeFileSync(path.join(shop.dataDir, 'postgres', 'PG_VERSION'), '11\n'); // a cluster of another major version

    const again = await npmStart('broken-again', { DATA_DIR: shop.dataDir, PORT: String(shop.gatewayPort), SUBGRAPH_PORT_BASE: String(shop.gatewayPort + 1), EMBEDDED_PG_PORT: String(shop.pgPort) });
    started.push(again);
    expect(await again.exited).not.toBe(0);
    expect(firstLine(again)).toContain('database files are incompatible with server');
  }, 180_000);
});
