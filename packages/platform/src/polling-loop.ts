import { sleep } from './events/bus';

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
}

/**
 * The loop behind every background worker that drains a table (the outbox relay, the mail
 * dispatcher, the payment worker): run a round now when woken, otherwise every `intervalMs`, back
 * off after failures, and on `stop()` finish the round in flight before resolving.
 */
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
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.intervalMs);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }
}
