import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { assertPortFree } from '../db/embedded-postgres';

/** Where Debian's package puts the server (scripts/ensure-redis.sh installs it). */
export const REDIS_SERVER = process.env['REDIS_SERVER_BIN'] ?? '/usr/bin/redis-server';
/** Default readiness deadline. */
const DEFAULT_STARTUP_TIMEOUT_MS = 30_000;
/** How long stop() waits after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 10_000;

export interface RedisServerOptions {
  /** TCP port on 127.0.0.1. */
  readonly port: number;
  /** The server's own directory (its log and working dir); created when missing. Nothing is persisted there. */
  readonly dataDir: string;
  /** Milliseconds to wait for `PING` to answer `PONG`. Default 30000. */
  readonly startupTimeoutMs?: number;
}

export interface RedisServerHandle {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a real `redis-server` (Debian's 7.0) on 127.0.0.1 for the tests, with no persistence (no
 * RDB, no AOF: a test run starts empty) and its log in `dataDir`. Fails loudly, never skips: when the
 * binary is missing, when the port is taken, or when the server does not answer PING in time, the
 * error says why and quotes the server's output. A process 'exit' hook kills it if nobody calls stop().
 */
export async function startRedisServer(options: RedisServerOptions): Promise<RedisServerHandle> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} is missing: run scripts/ensure-redis.sh (installs Debian's redis-server)`);
  // A server already on the port would answer the PING below in place of ours.
  await assertPortFree(options.port, 'TEST_REDIS_PORT');
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const args = [
    '--port', String(options.port),
    '--bind', '127.0.0.1',
    '--protected-mode', 'yes',
    '--dir', dataDir,
    '--logfile', '',
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--databases', '4',
  ];
  const child = spawn(REDIS_SERVER, args, { cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = (): void => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  try {
    await waitForPong(child, options.port, options.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`redis-server on 127.0.0.1:${options.port} did not start: ${error instanceof Error ? error.message : String(error)}\n--- redis-server output ---\n${output || '(none)'}`);
  }
  let stopping: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${options.port}`,
    stop: () =>
      (stopping ??= (async () => {
        process.removeListener('exit', killOnExit);
        if (child.exitCode !== null || child.signalCode !== null) return;
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        child.kill('SIGTERM');
        await exited;
        clearTimeout(timer);
      })()),
  };
}

async function waitForPong(child: ChildProcess, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`it exited with code ${child.exitCode}`);
    try {
      if ((await ping(port)).startsWith('+PONG')) return;
      last = 'PING did not answer PONG';
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no PONG within ${timeoutMs} ms (last: ${last})`);
}

/** One inline `PING` over a raw socket: the tests' infrastructure needs no Redis client. */
function ping(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => socket.destroy(new Error('PING timed out')), 1_000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      clearTimeout(timer);
      socket.end();
      resolve(data.toString());
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
