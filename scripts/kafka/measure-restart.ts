/**
 * Measures how soon a standalone service on Kafka is ready again after a SIGKILL: starts an
 * embedded Postgres (its own data directory and port), runs one service as Kubernetes does
 * (`node --import tsx src/main.ts` with KAFKA_BROKERS), then kills and restarts it a few times,
 * printing the time from each spawn to the first 200 of /health/ready.
 *
 *   npm run kafka -- start --background            # or any broker
 *   node --import tsx scripts/kafka/measure-restart.ts [service=catalog] [brokers=127.0.0.1:9092] [restarts=3]
 *
 * Settings: MEASURE_PORT (the service's port, default 5011), MEASURE_PG_PORT (default 25463).
 * Its data stays in .data/measure-restart (the service's database is recreated on each run).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '@shop/platform';

const root = path.resolve(__dirname, '../..');
const [service = 'catalog', brokers = '127.0.0.1:9092', restarts = '3'] = process.argv.slice(2);
const port = Number(process.env['MEASURE_PORT'] ?? 5011);

async function ready(): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200;
  } catch {
    return false;
  }
}

function start(databaseUrl: string, output: string[]): { child: ChildProcess; at: number } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: path.join(root, 'subgraphs', service),
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      KAFKA_BROKERS: brokers,
      INTERNAL_AUTH_SECRET: 'measure-restart-internal-secret-0123456789',
      JWT_SECRET: 'measure-restart-jwt-secret-0123456789abcdef',
      PORT: String(port),
      HOST: '127.0.0.1',
      KAFKA_REPLICATION_FACTOR: '1',
      KAFKA_TOPIC_PARTITIONS: '3',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'development',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
  return { child, at: Date.now() };
}

async function untilReady(started: { child: ChildProcess; at: number }, output: string[]): Promise<number> {
  for (;;) {
    if (started.child.exitCode !== null) throw new Error(`${service} exited (${started.child.exitCode}):\n${output.join('').slice(-3_000)}`);
    if (await ready()) return Date.now() - started.at;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<void> {
  const pg = await startEmbeddedPostgres({ dataDir: path.join(root, '.data', 'measure-restart'), port: Number(process.env['MEASURE_PG_PORT'] ?? 25463) });
  try {
    const admin = new Client({ connectionString: pg.url('postgres') });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${service}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${service}"`);
    await admin.end();
    const output: string[] = [];
    let running = start(pg.url(service), output);
    process.stdout.write(`${service}: first start ready after ${await untilReady(running, output)} ms\n`);
    for (let i = 1; i <= Number(restarts); i++) {
      await new Promise((r) => setTimeout(r, 3_000)); // a running service: heartbeats sent, partitions assigned
      running.child.kill('SIGKILL');
      await new Promise((r) => running.child.once('exit', r));
      output.length = 0;
      running = start(pg.url(service), output);
      process.stdout.write(`${service}: restart ${i} after SIGKILL ready after ${await untilReady(running, output)} ms (load ${loadavg()[0]!.toFixed(1)})\n`);
    }
    running.child.kill('SIGTERM');
    await new Promise((r) => running.child.once('exit', r));
  } finally {
    await pg.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
