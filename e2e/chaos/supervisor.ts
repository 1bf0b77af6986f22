/**
 * A small process supervisor for the chaos run: each managed process is one service as
 * Kubernetes runs it (`node --import tsx src/main.ts`, settings from its environment), started,
 * probed until ready, SIGKILLed, restarted with the same settings, and stopped. It keeps the tail
 * of each process's output, so a failure can say what the service printed. Every child it started
 * is SIGKILLed if this process exits without stopping it.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';

/** How many lines of a process's output are kept (quoted in errors). */
const TAIL_LINES = 80;
/** How long `stop()` waits after SIGTERM (the service's drain) before SIGKILL. */
const STOP_GRACE_MS = 20_000;

export interface ProcessSpec {
  /** A short name for tables and errors (`orders`, `gateway`). */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** GET this URL until it answers 200: the process is ready. */
  readonly readyUrl: string;
  /** Milliseconds to wait for readiness. Default 120000 (a loaded 2-core machine). */
  readonly readyTimeoutMs?: number;
  /** Also append everything the process prints to this file (every start of it). Default: only the tail in memory. */
  readonly logFile?: string;
}

/** One supervised process; `start` may be called again after the process ended (a restart). */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  private exit: Promise<void> = Promise.resolve();
  private lines: string[] = [];
  /** Epoch ms of the last spawn and of the first ready answer after it. */
  spawnedAt = 0;
  readyAt = 0;

  constructor(readonly spec: ProcessSpec) {}

  /** Whether the process is running. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns the process and resolves once it is ready (rejects, quoting its output, if it exits or times out first). */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.spec.name} is already running`);
    this.lines = [];
    const child = spawn(this.spec.command, [...this.spec.args], { cwd: this.spec.cwd, env: this.spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.spawnedAt = Date.now();
    this.readyAt = 0;
    let partial = '';
    if (this.spec.logFile) appendFileSync(this.spec.logFile, `--- ${new Date().toISOString()} start\n`);
    const onOutput = (chunk: Buffer): void => {
      if (this.spec.logFile) appendFileSync(this.spec.logFile, chunk);
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      this.lines.push(...parts);
      if (this.lines.length > TAIL_LINES) this.lines = this.lines.slice(-TAIL_LINES);
    };
    child.stdout?.on('data', onOutput);
    child.stderr?.on('data', onOutput);
    const killOnExit = (): void => void child.kill('SIGKILL');
    process.on('exit', killOnExit);
    this.exit = new Promise<void>((resolve) => {
      child.once('exit', () => {
        process.off('exit', killOnExit);
        resolve();
      });
      child.once('error', (error) => {
        this.lines.push(`could not spawn: ${error.message}`);
        process.off('exit', killOnExit);
        resolve();
      });
    });
    const deadline = Date.now() + (this.spec.readyTimeoutMs ?? 120_000);
    for (;;) {
      if (!this.running) throw new Error(`${this.spec.name} exited before it was ready (${describeExit(child)}):\n${this.output()}`);
      if (await answers200(this.spec.readyUrl)) break;
      if (Date.now() > deadline) throw new Error(`${this.spec.name} not ready within ${this.spec.readyTimeoutMs ?? 120_000} ms:\n${this.output()}`);
      await sleep(100);
    }
    this.readyAt = Date.now();
  }

  /** Sends SIGKILL and resolves once the process is gone (a crash: no drain, nothing flushed). */
  async kill(): Promise<void> {
    if (this.child && this.running) this.child.kill('SIGKILL');
    await this.exit;
  }

  /** SIGTERM (the service drains), SIGKILL after a grace period; resolves once it is gone. Idempotent. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return this.exit;
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const exitedInTime = await Promise.race([this.exit.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), STOP_GRACE_MS)))]);
    clearTimeout(timer);
    if (!exitedInTime) child.kill('SIGKILL');
    await this.exit;
  }

  /** The last lines the process printed. */
  output(): string {
    return this.lines.join('\n') || '(no output)';
  }
}

/** Several managed processes by name, stopped together (in reverse start order). */
export class Supervisor {
  private readonly processes = new Map<string, ManagedProcess>();

  add(spec: ProcessSpec): ManagedProcess {
    if (this.processes.has(spec.name)) throw new Error(`${spec.name} is supervised already`);
    const managed = new ManagedProcess(spec);
    this.processes.set(spec.name, managed);
    return managed;
  }

  get(name: string): ManagedProcess {
    const managed = this.processes.get(name);
    if (!managed) throw new Error(`no supervised process named ${name}`);
    return managed;
  }

  /** Stops every process, last started first. */
  async stopAll(): Promise<void> {
    for (const managed of [...this.processes.values()].reverse()) await managed.stop();
  }
}

/** A service run as in Kubernetes: `node --import tsx src/main.ts` in its workspace folder. */
export function nodeService(name: string, cwd: string, env: NodeJS.ProcessEnv, port: number, logFile?: string): ProcessSpec {
  return {
    name,
    command: process.execPath,
    args: ['--import', 'tsx', 'src/main.ts'],
    cwd,
    env: { ...process.env, ...env, PORT: String(port) },
    readyUrl: `http://127.0.0.1:${port}/health/ready`,
    ...(logFile ? { logFile } : {}),
  };
}

async function answers200(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

function describeExit(child: ChildProcess): string {
  return child.signalCode ? `killed by ${child.signalCode}` : `exit code ${child.exitCode}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
