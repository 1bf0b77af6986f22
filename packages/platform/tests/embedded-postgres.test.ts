import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePortBlock } from '@shop/platform/testing';

const root = path.resolve(__dirname, '../../..');

describe('embedded Postgres', () => {
  const dir = mkdtempSync(path.join(root, '.data', 'pg-lock-'));
  chmodSync(dir, 0o755); // as root, Postgres runs as the postgres user, which must reach its data directory
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('should start after a crash left a postmaster.pid whose PID now belongs to another process', async () => {
    const port = await freePortBlock(1);
    // The live, non-Postgres process named in the stale lock: this jest worker.
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(__dirname, 'support/stale-lock.main.ts'), path.join(dir, 'db'), String(port), String(process.pid)], {
      cwd: root,
      timeout: 110_000,
    });
    expect(JSON.parse(stdout.trim())).toEqual([{ ok: 1 }]);
  }, 120_000);
});
