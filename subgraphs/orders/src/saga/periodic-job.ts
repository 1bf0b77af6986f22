import type { BackgroundJob, Logger } from '@shop/platform';

/**
 * Runs `tick` every `intervalMs` (measured from the end of one run to the start of the next, so
 * runs never overlap) until stopped; `stop()` waits for a run in progress. Errors are logged and
 * the job carries on.
 */
export function periodicJob(name: string, intervalMs: number, tick: () => Promise<unknown>, logger: Logger): BackgroundJob {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick()
        .then(() => undefined)
        .catch((err: unknown) => logger.warn({ err, job: name }, 'background job failed; will run again'))
        .finally(schedule);
    }, intervalMs);
  };
  schedule();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
