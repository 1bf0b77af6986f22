/**
 * The benchmark's child processes: each is `node --import tsx <file>`, optionally pinned to one
 * core with `taskset`, talking to the orchestrator over Node's IPC channel (one typed message per
 * step). The pid stays the node process's (taskset execs it), so /proc/<pid>/stat is its CPU.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** A message between the orchestrator and a child: a `type` and its fields. */
export interface Message {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** Whether `taskset` can pin processes here (Linux with util-linux). */
export function canPin(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface ChildOptions {
  /** Core to pin the process to (taskset -c), or undefined for none. */
  readonly cpu?: number | undefined;
  /** Extra node flags (e.g. --cpu-prof). */
  readonly nodeFlags?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/** A running child with request/answer messaging. */
export class Child {
  private readonly waiting = new Map<string, Array<(m: Message) => void>>();
  private exited = false;
  private readonly exit: Promise<void>;

  constructor(readonly name: string, private readonly process: ChildProcess) {
    process.on('message', (m: Message) => {
      const queue = this.waiting.get(m.type);
      const next = queue?.shift();
      if (next) next(m);
    });
    this.exit = new Promise((resolve) =>
      process.once('exit', () => {
        this.exited = true;
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.process.pid ?? -1;
  }

  /** Waits for the next message of `type`; rejects if the child exits or `timeoutMs` passes first. */
  next<T extends Message>(type: string, timeoutMs = 120_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no "${type}" within ${timeoutMs} ms`)), timeoutMs);
      const onExit = () => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited while waiting for "${type}"`));
      };
      void this.exit.then(onExit);
      const queue = this.waiting.get(type) ?? [];
      queue.push((m) => {
        clearTimeout(timer);
        if (m['error']) reject(new Error(`${this.name}: ${String(m['error'])}`));
        else resolve(m as T);
      });
      this.waiting.set(type, queue);
    });
  }

  send(message: Message): void {
    if (!this.exited) this.process.send(message);
  }

  /** Sends `request` and waits for the answer of type `answer`. */
  ask<T extends Message>(request: Message, answer: string, timeoutMs?: number): Promise<T> {
    const reply = this.next<T>(answer, timeoutMs);
    this.send(request);
    return reply;
  }

  /** Asks the child to stop, then kills it (SIGKILL) after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.exited) return;
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.exit;
    clearTimeout(timer);
  }
}

/** Starts `file` (a .ts entry beside this one) as a child process and waits for its "ready" message. */
export async function startChild(name: string, file: string, args: readonly string[], options: ChildOptions = {}): Promise<{ child: Child; ready: Message }> {
  const node = [...(options.nodeFlags ?? []), '--import', 'tsx', path.join(__dirname, file), ...args];
  const [command, argv] = options.cpu === undefined ? [process.execPath, node] : ['taskset', ['-c', String(options.cpu), process.execPath, ...node]];
  const proc = spawn(command, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...options.env } });
  const child = new Child(name, proc);
  try {
    return { child, ready: await child.next('ready') };
  } catch (error) {
    await child.stop(1000);
    throw error;
  }
}

/** In a child: answers the orchestrator's messages with `handlers` (an answer of type `<type>:done`, or with `error`). */
export function serveMessages(handlers: Record<string, (m: Message) => Promise<Message | void>>): void {
  process.on('message', (m: Message) => {
    const handler = handlers[m.type];
    if (!handler) return;
    handler(m).then(
      (answer) => process.send?.(answer ?? { type: `${m.type}:done` }),
      (error: unknown) => process.send?.({ type: `${m.type}:done`, error: error instanceof Error ? error.stack ?? error.message : String(error) }),
    );
  });
  // The orchestrator gone (crash, Ctrl-C): nothing of ours outlives it.
  process.on('disconnect', () => process.exit(0));
}

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system, every thread) a process has used, in milliseconds, from /proc/<pid>/stat. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) in parentheses: utime is field 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}
