/**
 * GraphiQL's bundle built ahead of time, as the gateway's image builds it: the image's command
 * (`bundle.main.ts <dir>`, the gateway's own esbuild build) writes a bundle into a temporary
 * directory; the GraphiQL route given that bundle serves exactly its files and never builds; the
 * real gateway process started with GRAPHIQL_BUNDLE_DIR serves it too, and a directory that holds
 * no bundle of these sources stops the gateway at start with one line saying why.
 */
import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { testKafkaBrokers } from '@shop/platform/testing';
import { PREBUILD_COMMAND, readPrebuiltBundle } from '../src/graphiql/bundle';
import { createGraphiqlHandler } from '../src/graphiql/graphiql';

// A tripwire, not a double: serving a prebuilt bundle must never load esbuild. (The bundle itself is
// built in a child process, by the command the image runs.)
jest.mock('esbuild', () => {
  throw new Error('esbuild was loaded');
});

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const HTML = { accept: 'text/html', 'accept-encoding': 'identity' };

/** The asset URLs the page refers to (stylesheet, script). */
function assetUrls(html: string): string[] {
  return [...html.matchAll(/(?:href|src)="(\/graphiql-assets\/[^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
}

describe('GraphiQL from a bundle built ahead of time', () => {
  let work: string;
  let dir: string;
  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'graphiql-prebuilt-'));
    dir = path.join(work, 'bundle');
    const [command, ...args] = `${PREBUILD_COMMAND} ${dir}`.split(' ');
    expect(command).toBe('node');
    await promisify(execFile)(process.execPath, args, { cwd: REPO_ROOT });
  }, 180_000);
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it('should serve the prebuilt files as they are, without building or caching anything', async () => {
    const bundle = await readPrebuiltBundle(dir);
    expect(bundle.source).toBe('prebuilt');
    const cacheDir = path.join(work, 'cache');
    mkdirSync(cacheDir);
    const handler = createGraphiqlHandler({ bundle, cacheDir, prepare: true });
    const server = http.createServer((req, res) => {
      if (!handler(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const page = await fetch(`${base}/graphql`, { headers: HTML });
      expect(page.status).toBe(200);
      const urls = assetUrls(await page.text());
      expect(urls.map((u) => u.split('?')[0])).toEqual(['/graphiql-assets/graphiql.css', '/graphiql-assets/graphiql.js']);
      const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { files: Array<{ name: string }> };
      expect(manifest.files.length).toBeGreaterThanOrEqual(6);
      for (const { name } of manifest.files) {
        const res = await fetch(`${base}/graphiql-assets/${encodeURIComponent(name)}`, { headers: { 'accept-encoding': 'identity' } });
        expect({ name, status: res.status }).toEqual({ name, status: 200 });
        expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(path.join(dir, name)))).toBe(true);
      }
      expect(readdirSync(cacheDir)).toEqual([]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('should refuse, with one line saying why and how to build one, a directory that holds no bundle of these sources', async () => {
    const variant = (name: string, change: (copy: string) => void): string => {
      const copy = path.join(work, name);
      cpSync(dir, copy, { recursive: true });
      change(copy);
      return copy;
    };
    const empty = path.join(work, 'empty');
    mkdirSync(empty);
    const cases: Array<[string, string]> = [
      [path.join(work, 'missing'), 'the directory does not exist'],
      [empty, 'it has no manifest.json'],
      [variant('no-script', (copy) => unlinkSync(path.join(copy, 'graphiql.js'))), 'a file its manifest.json lists cannot be read (ENOENT'],
      [
        variant('other-sources', (copy) => {
          const file = path.join(copy, 'manifest.json');
          writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), key: '0123456789abcdef01234567' }));
        }),
        'it was built from other sources (key 0123456789abcdef01234567',
      ],
    ];
    for (const [bad, why] of cases) {
      const error = await readPrebuiltBundle(bad).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect({ bad, message: error?.message.split('\n') }).toEqual({ bad, message: [expect.stringContaining(`GRAPHIQL_BUNDLE_DIR ${bad} holds no GraphiQL bundle this gateway can serve: ${why}`)] });
      expect(error?.message).toContain(`${PREBUILD_COMMAND} ${bad}`);
    }
  });

  describe('the gateway process, as its image starts it', () => {
    let child: ChildProcess | undefined;
    afterEach(() => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      child = undefined;
    });

    /** main.ts with NODE_ENV=production and GRAPHIQL_BUNDLE_DIR=`bundleDir`; its output as it comes, and its exit. */
    const startGateway = (bundleDir: string): { log: () => string; exited: Promise<number | null> } => {
      const secret = 'graphiql-prebuilt-test-secret-0123456789';
      const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: path.join(REPO_ROOT, 'gateway'),
        env: { PATH: process.env['PATH'], NODE_ENV: 'production', LOG_LEVEL: 'info', PORT: '0', HOST: '127.0.0.1', KAFKA_BROKERS: testKafkaBrokers().join(','), INTERNAL_AUTH_SECRET: secret, JWT_SECRET: secret, GATEWAY_WORKERS: '1', GRAPHIQL_BUNDLE_DIR: bundleDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = proc;
      let log = '';
      proc.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
      proc.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
      return { log: () => log, exited: new Promise((resolve) => proc.once('exit', (code) => resolve(code))) };
    };

    it('should serve the bundle of GRAPHIQL_BUNDLE_DIR', async () => {
      const gateway = startGateway(dir);
      const line = (msg: string): Record<string, unknown> | undefined =>
        gateway
          .log()
          .split('\n')
          .filter((l) => l.includes(`"msg":"${msg}"`))
          .map((l) => JSON.parse(l) as Record<string, unknown>)[0];
      let exited = false;
      void gateway.exited.then(() => (exited = true));
      const deadline = Date.now() + 90_000;
      while (!(line('gateway ready') && line('GraphiQL bundle ready')) && !exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect({ ready: Boolean(line('gateway ready')), log: exited ? gateway.log() : '' }).toEqual({ ready: true, log: '' });
      expect(line('GraphiQL bundle ready')).toMatchObject({ source: 'prebuilt' });
      const base = String(line('gateway ready')!['url']).replace(/\/graphql$/, '');
      const page = await fetch(`${base}/graphql`, { headers: HTML });
      expect(page.status).toBe(200);
      const script = assetUrls(await page.text()).find((u) => u.startsWith('/graphiql-assets/graphiql.js'))!;
      const served = await fetch(`${base}${script}`, { headers: { 'accept-encoding': 'identity' } });
      expect(served.headers.get('cache-control')).toContain('immutable');
      expect(Buffer.from(await served.arrayBuffer()).equals(readFileSync(path.join(dir, 'graphiql.js')))).toBe(true);
    }, 120_000);

    it('should stop at start, with one line saying why, when GRAPHIQL_BUNDLE_DIR holds no bundle', async () => {
      const empty = mkdtempSync(path.join(work, 'nothing-'));
      const gateway = startGateway(empty);
      expect(await gateway.exited).toBe(1);
      expect(gateway.log()).toContain(`start-up failed: GRAPHIQL_BUNDLE_DIR ${empty} holds no GraphiQL bundle this gateway can serve: it has no manifest.json.`);
      expect(gateway.log()).not.toContain('gateway ready');
    }, 90_000);
  });
});
