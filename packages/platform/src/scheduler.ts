/**
 * The one scheduler of every background worker: a loop that runs a round of work now when woken,
 * otherwise every interval, backs off after failures, and on stop finishes the round in flight.
 * Workers that drain a table (the outbox relay, the mail dispatcher, the payment worker) wake it
 * after a commit; periodic jobs (sweepers, the reconciliation, housekeeping) use {@link every}.
 */
import { sleep } from './events/bus';
import type { Logger } from './logger';

export interface PollingLoopOptions {
  /**
   * One round of work. Answers true when more work may be waiting (run again at once), false to
   * wait for `wake()` or the next interval. A throw counts as a failure and backs off.
   */
  readonly tick: () => Promise<boolean | void>;
  /** How often to run when nobody called `wake()`. */
  readonly intervalMs: number;
  /** Told about each failed round (with the count of consecutive failures) before the back-off. */
  readonly onError: (error: unknown, failures: number) => void;
  /** Longest back-off after consecutive failures (100 ms doubled each time). Default 5000 ms. */
  readonly maxBackoffMs?: number;
  /** Wait this long before the first round. Default 0 (a round at once). */
  readonly firstRunAfterMs?: number;
}

/** See the module comment. */
export class PollingLoop {
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private pending = false;

  constructor(private readonly options: PollingLoopOptions) {}

  /** Starts the loop (idempotent). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  /** Asks for a round now (e.g. right after committing a transaction that queued work). */
  wake(): void {
    this.pending = true;
    this.wakeUp?.();
  }

  /** Stops after the round in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    if (this.options.firstRunAfterMs) await this.idle(this.options.firstRunAfterMs);
    while (!this.stopped) {
      this.pending = false;
      let more = false;
      try {
        more = (await this.options.tick()) === true;
        failures = 0;
      } catch (error) {
        failures++;
        this.options.onError(error, failures);
        await sleep(Math.min(this.options.maxBackoffMs ?? 5_000, 100 * 2 ** failures));
        continue;
      }
      if (this.stopped) break;
      if (more || this.pending) continue;
      await this.idle(this.options.intervalMs);
    }
  }

  /** Waits `ms`, or less when woken or stopped. */
  private async idle(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeUp = undefined;
  }
}

export interface PeriodicJobOptions {
  /** Wait this long before the first run. Default one interval. */
  readonly firstRunAfterMs?: number;
}

/**
 * A periodic job: `tick` every `intervalMs` (from the end of one run to the start of the next, so
 * runs never overlap), started at once; a failed run is logged and retried with back-off; `stop()`
 * waits for a run in progress.
 */
export function every(name: string, intervalMs: number, tick: () => Promise<unknown>, logger: Logger, options: PeriodicJobOptions = {}): PollingLoop {
  const loop = new PollingLoop({
    intervalMs,
    firstRunAfterMs: options.firstRunAfterMs ?? intervalMs,
    tick: async () => void (await tick()),
    onError: (err, failures) => logger.warn({ err, job: name, failures }, 'background job failed; will run again'),
  });
  loop.start();
  return loop;
}
