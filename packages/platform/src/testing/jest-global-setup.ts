import { spawn } from 'node:child_process';
import path from 'node:path';

/**
 * Jest globalSetup: starts (once per run) the embedded Postgres, the real Kafka broker and a real
 * redis-server in a child process and exports TEST_DATABASE_URL, TEST_KAFKA_BROKERS and
 * TEST_REDIS_URL to the test workers. If all three are already set (external servers), nothing is
 * started. If the infrastructure cannot start, the run fails: Kafka and Redis tests are never skipped.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env['TEST_DATABASE_URL'] && process.env['TEST_KAFKA_BROKERS'] && process.env['TEST_REDIS_URL']) return;
  const root = path.resolve(__dirname, '../../../..');
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(__dirname, 'infra.main.ts')], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, LOG_LEVEL: 'silent' },
  });
  (globalThis as Record<string, unknown>)['__TEST_INFRA__'] = child;
  const line = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error('test infrastructure did not start within 240 s')), 240_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const nl = buffer.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buffer.slice(0, nl));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`test infrastructure exited with code ${code} before it was ready`));
    });
  });
  const info = JSON.parse(line) as { databaseUrl: string; kafkaBrokers: string; redisUrl: string };
  process.env['TEST_DATABASE_URL'] = info.databaseUrl;
  process.env['TEST_KAFKA_BROKERS'] = info.kafkaBrokers;
  process.env['TEST_REDIS_URL'] = info.redisUrl;
}
