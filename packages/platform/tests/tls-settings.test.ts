/**
 * The TLS settings as an operator meets them: plaintext by default (the embedded, loopback
 * Postgres and broker of `npm start`), and every wrong combination refused before anything
 * connects, with one line naming the setting and what to do.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, parseSettings } from '../src/config';
import { assertNoTlsInUrl, kafkaSecurity, kafkaSecuritySettings, postgresTls, postgresTlsSettings } from '../src/tls';
import { TestCertificates } from '../src/testing';

const dir = path.resolve(__dirname, '../../../.data', `tls-settings-${randomBytes(4).toString('hex')}`);
const certs = new TestCertificates(dir);
const ca = certs.authority('settings-ca');
const client = certs.leaf(ca, 'client', { commonName: 'shop' });
const other = certs.leaf(ca, 'other', { commonName: 'other' });
const notPem = path.join(dir, 'not-a-certificate.txt');
writeFileSync(notPem, 'hello\n');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The one line a service would print, or 'ok'. */
function outcome(read: () => unknown): string {
  try {
    read();
    return 'ok';
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
}

const postgres = (values: Record<string, string>): unknown => postgresTls(parseSettings(postgresTlsSettings, values));
const kafka = (values: Record<string, string>): unknown => kafkaSecurity(parseSettings(kafkaSecuritySettings, values));

describe('Postgres TLS settings', () => {
  it('should default to plaintext (the embedded Postgres on loopback)', () => {
    expect(postgresTls(parseSettings(postgresTlsSettings, {}, 'development', {}))).toBeUndefined();
  });

  it('should give verified TLS with the CA (and the host name checked only under verify-full)', () => {
    const full = postgres({ DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CA_FILE: ca.certFile }) as Record<string, unknown>;
    expect(full).toEqual({ rejectUnauthorized: true, ca: expect.stringContaining('BEGIN CERTIFICATE') });
    const caOnly = postgres({ DATABASE_SSL_MODE: 'verify-ca', DATABASE_SSL_CA_FILE: ca.certFile }) as Record<string, unknown>;
    expect(typeof caOnly['checkServerIdentity']).toBe('function');
    const withClient = postgres({ DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CERT_FILE: client.certFile, DATABASE_SSL_KEY_FILE: client.keyFile }) as Record<string, unknown>;
    expect(withClient).toEqual({ rejectUnauthorized: true, cert: expect.stringContaining('BEGIN CERTIFICATE'), key: expect.stringContaining('PRIVATE KEY') });
  });

  it.each([
    ['an sslmode it does not offer', { DATABASE_SSL_MODE: 'require' }, 'Invalid configuration: DATABASE_SSL_MODE: expected disable, verify-ca or verify-full (got "require")'],
    ['a CA file with TLS off', { DATABASE_SSL_CA_FILE: 'ca.crt' }, 'Invalid configuration: DATABASE_SSL_CA_FILE: is set, but DATABASE_SSL_MODE is disable (set it to verify-full)'],
    ['an unreadable CA file', { DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CA_FILE: '/nonexistent/ca.crt' }, 'Invalid configuration: DATABASE_SSL_CA_FILE: cannot read /nonexistent/ca.crt (ENOENT)'],
    ['a CA file without a certificate', { DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CA_FILE: notPem }, `Invalid configuration: DATABASE_SSL_CA_FILE: ${notPem} holds no PEM certificate`],
    ['a client certificate without its key', { DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CERT_FILE: client.certFile }, 'Invalid configuration: DATABASE_SSL_KEY_FILE: is not set, but DATABASE_SSL_CERT_FILE is (a client certificate needs both)'],
    ['a key of another certificate', { DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CERT_FILE: client.certFile, DATABASE_SSL_KEY_FILE: other.keyFile }, `Invalid configuration: DATABASE_SSL_KEY_FILE: ${other.keyFile} is not the key of the certificate in DATABASE_SSL_CERT_FILE`],
    ['a certificate given as the key', { DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CERT_FILE: client.certFile, DATABASE_SSL_KEY_FILE: client.certFile }, `Invalid configuration: DATABASE_SSL_KEY_FILE: ${client.certFile} holds no unencrypted PEM private key`],
  ])('should refuse %s with one line', (_label, values, line) => {
    expect(outcome(() => postgres(values))).toBe(line);
  });

  it("should refuse TLS parameters in the database URL (node-postgres' own meaning would win over the settings)", () => {
    expect(outcome(() => assertNoTlsInUrl('DATABASE_URL', 'postgres://u:p@db:5432/shop?sslmode=require'))).toBe('Invalid configuration: DATABASE_URL: carries sslmode: set TLS with DATABASE_SSL_MODE and DATABASE_SSL_CA_FILE instead');
    expect(outcome(() => assertNoTlsInUrl('DATABASE_URL', 'postgres://u:p@db:5432/shop?application_name=x'))).toBe('ok');
  });
});

describe('Kafka TLS and SASL settings', () => {
  it('should default to plaintext (the development broker on loopback)', () => {
    expect(kafkaSecurity(parseSettings(kafkaSecuritySettings, {}, 'development', {}))).toBeUndefined();
  });

  it('should give TLS with the CA and the SCRAM login, in either spelling of the mechanism', () => {
    const security = kafka({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SSL_CA_FILE: ca.certFile, KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'catalog-kafka', KAFKA_SASL_PASSWORD: 'secret' });
    expect(security).toEqual({ ssl: { rejectUnauthorized: true, ca: expect.stringContaining('BEGIN CERTIFICATE') }, sasl: { mechanism: 'scram-sha-512', username: 'catalog-kafka', password: 'secret' } });
    expect(kafka({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CERT_FILE: client.certFile, KAFKA_SSL_KEY_FILE: client.keyFile })).toEqual({ ssl: { rejectUnauthorized: true, cert: expect.any(String), key: expect.any(String) } });
  });

  it.each([
    ['SASL without TLS', { KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT' }, 'Invalid configuration: KAFKA_SECURITY_PROTOCOL: expected PLAINTEXT, SSL or SASL_SSL (got "SASL_PLAINTEXT")'],
    ['a user with TLS off', { KAFKA_SASL_USERNAME: 'shop' }, 'Invalid configuration: KAFKA_SASL_USERNAME: is set, but KAFKA_SECURITY_PROTOCOL is PLAINTEXT (set it to SASL_SSL or SSL)'],
    ['SASL_SSL without a password', { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'shop' }, 'Invalid configuration: KAFKA_SASL_PASSWORD: is required when KAFKA_SECURITY_PROTOCOL is SASL_SSL'],
    ['a password with SSL only', { KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SASL_PASSWORD: 'x' }, 'Invalid configuration: KAFKA_SASL_PASSWORD: is set, but KAFKA_SECURITY_PROTOCOL is SSL (SASL needs SASL_SSL)'],
    ['the PLAIN mechanism', { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'a', KAFKA_SASL_PASSWORD: 'b' }, 'Invalid configuration: KAFKA_SASL_MECHANISM: expected SCRAM-SHA-512 or SCRAM-SHA-256 (got "PLAIN")'],
    ['a CA file without a certificate', { KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: notPem }, `Invalid configuration: KAFKA_SSL_CA_FILE: ${notPem} holds no PEM certificate`],
  ])('should refuse %s with one line', (_label, values, line) => {
    expect(outcome(() => kafka(values))).toBe(line);
  });
});
