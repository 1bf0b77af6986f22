/**
 * TLS and SASL/SCRAM to a real Kafka broker: a single-node KRaft broker (scripts/kafka) with a
 * SASL_SSL listener whose certificate openssl made for this run, and a SCRAM user created when its
 * storage was formatted (`kafka-storage format --add-scram`). The event bus publishes and consumes
 * over it; a wrong CA, a host name the certificate does not carry and a wrong password are refused
 * with the reason, at once (not after a minute of retries); a subgraph and the gateway run on it.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { KafkaSecurity, KafkaSecuritySettings } from '../src/tls';
import { kafkaSecurity } from '../src/tls';
import { KafkaBus } from '../src/events/kafka-bus';
import type { KafkaBrokerHandle } from '../src/testing';
import { createTestDatabase, eventually, startKafkaBroker, TestCertificates, uniqueName } from '../src/testing';

const root = path.resolve(__dirname, '../../..');
/**
 * The TLS broker's ports: plaintext (the readiness probe), SASL_SSL (+1) and controller (+4), from
 * TEST_KAFKA_TLS_PORT, else 5 above the run's test broker (19097 by default: clear of its 19092-19093).
 */
const PORT = Number(process.env['TEST_KAFKA_TLS_PORT'] ?? Number(process.env['TEST_KAFKA_PORT'] ?? 19092) + 5);
const SASL_SSL_PORT = PORT + 1;
const CONTROLLER_PORT = PORT + 4;
const version = process.env['KAFKA_VERSION'];
const dir = path.join(root, '.data', `test-kafka-tls-${PORT}${version ? `-${version}` : ''}`);
const USER = 'shop-catalog';
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;

const certs = new TestCertificates(path.join(dir, 'certs'));
const ca = certs.authority('shop-test-ca');
const otherCa = certs.authority('someone-elses-ca');
// The broker is 127.0.0.1 (what it advertises), not "localhost".
const brokerCert = certs.leaf(ca, 'kafka-broker', { commonName: 'kafka.shop.test', dns: ['kafka.shop.test'], ip: ['127.0.0.1'] });
/** Kafka's PEM key store: the private key and the certificate chain in one file. */
const keystore = path.join(dir, 'certs', 'kafka-broker-keystore.pem');
writeFileSync(keystore, `${readFileSync(brokerCert.keyFile, 'utf8')}${readFileSync(brokerCert.certFile, 'utf8')}`, { mode: 0o600 });

let broker: KafkaBrokerHandle | undefined;
/** The SASL_SSL bootstrap server, e.g. 127.0.0.1:19436. */
let tlsBrokers: string[];
const buses: KafkaBus[] = [];

beforeAll(async () => {
  // A fresh data directory: the SCRAM user is created when the storage is formatted.
  rmSync(path.join(dir, 'kraft'), { recursive: true, force: true });
  broker = await startKafkaBroker({ port: PORT, controllerPort: CONTROLLER_PORT, dataDir: dir, saslSsl: { port: SASL_SSL_PORT, keystorePemFile: keystore, scramUsers: { [USER]: PASSWORD } } });
  tlsBrokers = broker.saslSslBrokers ?? [];
}, 240_000);

afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close()));
  await broker?.stop();
}, 60_000);

/** The settings a service reads, with these values. */
function settings(overrides: Partial<KafkaSecuritySettings> = {}): KafkaSecuritySettings {
  return { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SSL_CA_FILE: ca.certFile, KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: USER, KAFKA_SASL_PASSWORD: PASSWORD, ...overrides };
}

function busWith(security: KafkaSecurity | undefined, brokers = tlsBrokers): KafkaBus {
  const bus = new KafkaBus({ brokers, security, namespace: uniqueName('tls'), clientId: 'tls-test', partitions: 1 });
  buses.push(bus);
  return bus;
}

/** How a first publish ends: the error it is refused with. */
async function refusal(bus: KafkaBus): Promise<Error> {
  const outcome = await bus.publish([{ topic: uniqueName('refused'), key: 'k', value: 'v' }]).then(
    () => undefined,
    (error: unknown) => error as Error,
  );
  if (!outcome) throw new Error('the publish was accepted');
  return outcome;
}

describe('the event bus on a Kafka SASL_SSL listener (TLS + SCRAM-SHA-512)', () => {
  it('should publish and consume over TLS with the SCRAM user', async () => {
    const bus = busWith(kafkaSecurity(settings()));
    const topic = uniqueName('orders');
    const received: string[] = [];
    await bus.subscribe({ groupId: uniqueName('group'), topics: [topic], handle: async (m) => void received.push(`${m.key}=${m.value}`) });
    await bus.publish([
      { topic, key: 'order-1', value: 'placed' },
      { topic, key: 'order-1', value: 'confirmed' },
    ]);
    await eventually(() => received.length >= 2, 60_000);
    expect(received).toEqual(['order-1=placed', 'order-1=confirmed']);
  }, 120_000);

  it('should speak SCRAM-SHA-256 too when told to', async () => {
    const bus = busWith(kafkaSecurity(settings({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256' })));
    await expect(bus.publish([{ topic: uniqueName('sha256'), key: 'k', value: 'v' }])).resolves.toBeUndefined();
  }, 120_000);

  it('should refuse a broker whose certificate another CA signed, at once and naming the setting', async () => {
    const error = await refusal(busWith(kafkaSecurity(settings({ KAFKA_SSL_CA_FILE: otherCa.certFile }))));
    expect(error.name).toBe('TlsVerificationError');
    expect(error.message).toMatch(/^127\.0\.0\.1:\d+: the server's TLS certificate is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate.*\); check KAFKA_SSL_CA_FILE/);
  }, 60_000);

  it('should refuse a host name the broker certificate does not carry', async () => {
    const error = await refusal(busWith(kafkaSecurity(settings()), [`localhost:${SASL_SSL_PORT}`]));
    expect(error.message).toMatch(/^localhost:\d+: the server's TLS certificate is not trusted \(ERR_TLS_CERT_ALTNAME_INVALID: .*localhost/);
  }, 60_000);

  it('should refuse a wrong password with the user it tried, not hang in retries', async () => {
    const error = await refusal(busWith(kafkaSecurity(settings({ KAFKA_SASL_PASSWORD: 'not-the-password' }))));
    expect(error.message).toMatch(new RegExp(`^Kafka refused the SASL credentials of user "${USER}" \\(SCRAM-SHA-512; check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD\\): SASL SCRAM SHA512 authentication failed`));
  }, 60_000);
});

/** A service as Kubernetes runs it (its own process, `src/main.ts`), and the log line that says it serves. */
const PROCESSES = [
  { name: 'catalog', dir: 'subgraphs/catalog', ready: 'subgraph ready' },
  { name: 'gateway', dir: 'gateway', ready: 'gateway ready' },
] as const;

describe.each(PROCESSES)('the $name process on the SASL_SSL listener', ({ dir: workspace, ready: readyLine }) => {
  const run = async (password: string): Promise<{ ready: boolean; code: number | null; output: string }> => {
    const db = await createTestDatabase('kafka_tls');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: path.join(root, workspace),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NODE_ENV: 'production',
        LOG_LEVEL: 'info',
        HOST: '127.0.0.1',
        PORT: '0',
        DATABASE_URL: db.url,
        KAFKA_BROKERS: tlsBrokers.join(','),
        KAFKA_REPLICATION_FACTOR: '1',
        KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
        KAFKA_SSL_CA_FILE: ca.certFile,
        KAFKA_SASL_USERNAME: USER,
        KAFKA_SASL_PASSWORD: password,
        INTERNAL_AUTH_SECRET: 'x'.repeat(32),
        JWT_SECRET: 'y'.repeat(32),
      },
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await eventually(() => output.includes(readyLine) || child.exitCode !== null, 90_000, 100);
      let ready = child.exitCode === null;
      if (ready) {
        // Ready means its Kafka consumers run (the gateway: the revocation replay is done), over TLS.
        const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)\/graphql"/.exec(output)?.[1];
        ready = await eventually(async () => (await fetch(`${url}/health/ready`)).status === 200, 60_000, 200).then(() => true, () => false);
        child.kill('SIGTERM');
      }
      return { ready, code: await exited, output };
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await db.drop().catch(() => undefined);
    }
  };

  it('should become ready and stop cleanly with KAFKA_SECURITY_PROTOCOL=SASL_SSL', async () => {
    const result = await run(PASSWORD);
    expect({ ready: result.ready, code: result.code }).toEqual({ ready: true, code: 0 });
  }, 150_000);

  it('should stop with one line when the password is wrong', async () => {
    const result = await run('not-the-password');
    expect(result.ready).toBe(false);
    expect(result.code).toBe(1);
    const fatal = result.output.split('\n').filter((l) => l.includes('start-up failed'));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toContain(`start-up failed: Kafka refused the SASL credentials of user \\"${USER}\\"`);
  }, 150_000);
});
