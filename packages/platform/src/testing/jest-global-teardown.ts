import type { ChildProcess } from 'node:child_process';

/** Jest globalTeardown: stops the infrastructure started by globalSetup. */
export default async function globalTeardown(): Promise<void> {
  const child = (globalThis as Record<string, unknown>)['__TEST_INFRA__'] as ChildProcess | undefined;
  if (!child || child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, 30_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
