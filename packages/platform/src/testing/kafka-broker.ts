import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';

/** The repository root: this file is packages/platform/src/testing/kafka-broker.ts. */
const REPO_ROOT = path.resolve(__dirname, '../../../..');
/** The script that fetches (from Maven Central), formats and runs the broker. */
const KAFKA_SCRIPT = path.join(REPO_ROOT, 'scripts', 'kafka', 'kafka.sh');

/** Default client port, as in scripts/kafka/kafka.sh. */
const DEFAULT_PORT = 9092;
/** Default readiness deadline, counted after the jars are fetched. */
const DEFAULT_STARTUP_TIMEOUT_MS = 120_000;
/** Upper bound for the one-time jar download (`kafka.sh fetch`). */
const FETCH_TIMEOUT_MS = 900_000;
/** How long stop() waits after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 15_000;
/** How often readiness is probed. */
const PROBE_INTERVAL_MS = 250;
/** Lines of broker output / server.log quoted in startup errors. */
const TAIL_LINES = 60;

export interface KafkaBrokerHandle {
  /** Bootstrap servers for clients, e.g. `['127.0.0.1:9092']`. */
  readonly brokers: string[];
  /** Bootstrap servers of the SASL_SSL listener, when `saslSsl` was given. */
  readonly saslSslBrokers?: string[];
  /**
   * Stops the broker: SIGTERM to its whole process group, then SIGKILL if it has not exited after
   * 15 s. Resolves once the JVM has exited. Idempotent.
   */
  stop(): Promise<void>;
}

export interface KafkaBrokerOptions {
  /** Client (PLAINTEXT) listener port on 127.0.0.1. Default 9092. */
  port?: number;
  /** KRaft controller listener port on 127.0.0.1. Default `port + 1`. */
  controllerPort?: number;
  /**
   * Broker data directory (KRaft log dirs in `kraft/`, logs in `logs/`), formatted on first use and
   * reused afterwards. Default `<repo>/.data/kafka`, the same as `npm run kafka start`.
   */
  dataDir?: string;
  /**
   * Milliseconds to wait for the broker to serve metadata, counted after the jars are present.
   * Default 120000. The one-time download of the jars has its own 15-minute limit.
   */
  startupTimeoutMs?: number;
  /**
   * Also open a SASL_SSL listener (TLS, SCRAM-SHA-512 and -256) on 127.0.0.1:`port`, with the key and
   * certificate chain in `keystorePemFile` (one PEM file, unencrypted PKCS#8 key) and the SCRAM users
   * `scramUsers` (name → password), created when the data directory is formatted: give a fresh one.
   */
  saslSsl?: { port: number; keystorePemFile: string; scramUsers?: Readonly<Record<string, string>> };
}

/**
 * Starts a real single-node KRaft broker (fetching jars on first use) and resolves when it serves metadata.
 *
 * Runs `bash scripts/kafka/kafka.sh start` in its own process group (the script `exec`s the JVM), so
 * stop() ends the whole broker. A process 'exit' hook SIGKILLs it if the caller never calls stop(),
 * and the script's `KAFKA_PARENT_PID` watchdog stops it if this process dies without running hooks
 * (e.g. SIGKILL). Rejects, with the tail of the broker's output and log, if the broker exits during
 * startup or does not answer a kafkajs `listTopics()` within `startupTimeoutMs`.
 * The cache of jars is `$KAFKA_CACHE_DIR` (default `<repo>/.cache/kafka`); the Kafka version is the
 * script's default (the one the Strimzi cluster deploys) unless `KAFKA_VERSION` is set.
 */
export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBrokerHandle> {
  const port = options.port ?? DEFAULT_PORT;
  const controllerPort = options.controllerPort ?? port + 1;
  const dataDir = path.resolve(options.dataDir ?? path.join(REPO_ROOT, '.data', 'kafka'));
  const startupTimeoutMs = options.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS;
  for (const [name, value] of [['port', port], ['controllerPort', controllerPort]] as const) {
    if (!Number.isInteger(value) || value <= 0 || value >= 65_536) {
      throw new Error(`startKafkaBroker: ${name} must be a TCP port number, got ${value}`);
    }
  }
  if (port === controllerPort) throw new Error(`startKafkaBroker: port and controllerPort must differ (both ${port})`);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(controllerPort),
    KAFKA_DATA_DIR: dataDir,
    KAFKA_PARENT_PID: String(process.pid),
    ...(options.saslSsl
      ? {
          KAFKA_SASL_SSL_PORT: String(options.saslSsl.port),
          KAFKA_SSL_KEYSTORE_PEM: options.saslSsl.keystorePemFile,
          KAFKA_SCRAM_USERS: Object.entries(options.saslSsl.scramUsers ?? {})
            .map(([name, password]) => `${name}:${password}`)
            .join(' '),
        }
      : {}),
  };
  const brokers = [`127.0.0.1:${port}`];
  const serverLog = path.join(dataDir, 'logs', 'server.log');

  await fetchJars(env);

  const output = new OutputTail();
  const spawnedAt = Date.now();
  const child = spawn('bash', [KAFKA_SCRIPT, 'start'], {
    cwd: REPO_ROOT,
    env,
    detached: true, // own process group: signals to -pid reach the JVM and the script's watchdog
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const broker = new BrokerProcess(child, output);

  try {
    await waitUntilReady(broker, brokers, startupTimeoutMs);
  } catch (error) {
    await broker.stop();
    await Promise.race([broker.drained, sleep(1_000)]);
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Kafka broker on 127.0.0.1:${port} did not start: ${reason}\n` +
        `--- kafka.sh output (last ${TAIL_LINES} lines) ---\n${output.text() || '(none)'}\n` +
        `--- ${serverLog} (last ${TAIL_LINES} lines) ---\n${tailOfFile(serverLog, spawnedAt)}`,
    );
  }

  return {
    brokers,
    ...(options.saslSsl ? { saslSslBrokers: [`127.0.0.1:${options.saslSsl.port}`] } : {}),
    stop: () => broker.stop(),
  };
}

/** The broker's process group and its lifecycle. */
class BrokerProcess {
  private readonly pid: number | undefined;
  /** Resolves when the process has exited (or could not be started). */
  readonly exited: Promise<void>;
  /** Resolves when stdout/stderr are drained too (after exit), so error messages quote everything. */
  readonly drained: Promise<void>;
  private exitDescription: string | undefined;
  private stopping: Promise<void> | undefined;
  private readonly killOnExit = (): void => this.signal('SIGKILL');

  constructor(child: ChildProcess, output: OutputTail) {
    this.pid = child.pid;
    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk));
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitDescription = signal ? `killed by ${signal}` : `exit code ${code}`;
        process.removeListener('exit', this.killOnExit);
        resolve();
      });
      child.once('error', (error) => {
        this.exitDescription = `could not run bash: ${error.message}`;
        process.removeListener('exit', this.killOnExit);
        resolve();
      });
    });
    this.drained = new Promise<void>((resolve) => {
      child.once('close', () => resolve());
      child.once('error', () => resolve());
    });
    if (this.pid !== undefined) process.on('exit', this.killOnExit);
  }

  /** Why the process ended, or undefined while it runs. */
  get exitReason(): string | undefined {
    return this.exitDescription;
  }

  /** SIGTERM the group, wait, SIGKILL after the grace period. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.exitDescription === undefined) {
        this.signal('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const graceOver = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), STOP_GRACE_MS);
        });
        const exitedInTime = await Promise.race([this.exited.then(() => true), graceOver]);
        clearTimeout(timer);
        if (!exitedInTime) this.signal('SIGKILL');
        await this.exited;
      }
      // Anything left in the group (the script's watchdog) goes too.
      this.signal('SIGKILL');
      process.removeListener('exit', this.killOnExit);
    })();
    return this.stopping;
  }

  private signal(signal: NodeJS.Signals): void {
    if (this.pid === undefined) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }
}

/** Polls with a kafkajs Admin until `listTopics()` succeeds, the broker exits, or the deadline passes. */
async function waitUntilReady(broker: BrokerProcess, brokers: string[], timeoutMs: number): Promise<void> {
  const kafka = new Kafka({
    clientId: 'kafka-broker-readiness-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
  });
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no probe yet';
  for (;;) {
    if (broker.exitReason !== undefined) throw new Error(`the broker process ended (${broker.exitReason})`);
    if (Date.now() > deadline) throw new Error(`not serving metadata after ${timeoutMs} ms (last probe: ${lastError})`);
    const admin = kafka.admin({ retry: { retries: 0 } });
    const probe = (async (): Promise<'ready'> => {
      await admin.connect();
      await admin.listTopics();
      return 'ready';
    })();
    // Race the broker's exit: a probe against a port held by something else could hang until its timeout.
    const outcome = await Promise.race([
      probe.catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
      broker.exited.then(() => 'exited' as const),
    ]);
    // disconnect() waits for a request in flight, so after an exit it is not awaited.
    const disconnected = admin.disconnect().catch(() => undefined);
    if (outcome !== 'exited') await disconnected;
    if (outcome === 'ready') return;
    if (outcome instanceof Error) lastError = outcome.message;
    await sleep(PROBE_INTERVAL_MS);
  }
}

/** `kafka.sh fetch`: a no-op when the jars are cached, else downloads them from Maven Central. */
async function fetchJars(env: NodeJS.ProcessEnv): Promise<void> {
  if (!existsSync(KAFKA_SCRIPT)) throw new Error(`startKafkaBroker: ${KAFKA_SCRIPT} is missing`);
  const output = new OutputTail();
  const child = spawn('bash', [KAFKA_SCRIPT, 'fetch'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
  const result = await new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(`timed out after ${FETCH_TIMEOUT_MS} ms`);
    }, FETCH_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve(`could not run bash: ${error.message}`);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve(code === 0 ? undefined : signal ? `killed by ${signal}` : `exit code ${code}`);
    });
  });
  if (result !== undefined) {
    throw new Error(`startKafkaBroker: 'kafka.sh fetch' failed (${result})\n${output.text()}`);
  }
}

/** Keeps the last TAIL_LINES lines written by a child process. */
class OutputTail {
  private lines: string[] = [];
  private partial = '';

  push(chunk: Buffer): void {
    const parts = (this.partial + chunk.toString('utf8')).split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    if (this.lines.length > TAIL_LINES) this.lines = this.lines.slice(-TAIL_LINES);
  }

  text(): string {
    return [...this.lines, this.partial].filter((line) => line !== '').join('\n');
  }
}

/** The last lines of a log file, or why there are none (missing, or not written since `since`). */
function tailOfFile(file: string, since: number): string {
  try {
    // 1 s of slack for file systems with coarse timestamps.
    if (statSync(file).mtimeMs < since - 1_000) return '(not written by this start: the broker never got that far)';
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-TAIL_LINES).join('\n') || '(empty)';
  } catch {
    return '(missing)';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
