import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { z } from 'zod';
import type { SettingsOf } from './config';
import { ConfigError, defineSettings } from './config';

/** A path to a PEM file (checked when the settings are read: it must exist and hold what it should). */
const pemFile = (): z.ZodOptional<z.ZodString> => z.string().min(1).optional();

/**
 * TLS to Postgres, for every process that connects to one (standalone services, their migration
 * run, `npm start` with an external server). `disable` (the default) is for the embedded,
 * loopback-only Postgres; `verify-full` checks the server's certificate against the CA and its host
 * name against the URL's host; `verify-ca` checks the certificate only (for a server reached by a
 * name its certificate does not carry). Without a CA file, Node's bundled public roots are trusted
 * (managed servers with a public CA). A client certificate and key are optional, and go together.
 */
export const postgresTlsSettings = defineSettings(
  {
    DATABASE_SSL_MODE: z.enum(['disable', 'verify-ca', 'verify-full'], { message: 'expected disable, verify-ca or verify-full' }).default('disable'),
    DATABASE_SSL_CA_FILE: pemFile(),
    DATABASE_SSL_CERT_FILE: pemFile(),
    DATABASE_SSL_KEY_FILE: pemFile(),
  },
  (settings) => void postgresTls(settings),
);
export type PostgresTlsSettings = SettingsOf<typeof postgresTlsSettings.shape>;

/** The SASL mechanisms the Kafka adapter speaks (both SCRAM; the password never crosses the wire). */
const SASL_MECHANISMS = ['SCRAM-SHA-512', 'SCRAM-SHA-256'] as const;

/**
 * TLS and SASL/SCRAM to Kafka, for every Kafka client (the subgraphs and the gateway).
 * `PLAINTEXT` (the default) is for the development broker on loopback; `SSL` verifies the brokers'
 * certificates (CA, host names), with an optional client certificate (mutual TLS); `SASL_SSL` adds a
 * SCRAM user (Strimzi's KafkaUser with `scram-sha-512`). SASL without TLS is not offered.
 */
export const kafkaSecuritySettings = defineSettings(
  {
    KAFKA_SECURITY_PROTOCOL: z.enum(['PLAINTEXT', 'SSL', 'SASL_SSL'], { message: 'expected PLAINTEXT, SSL or SASL_SSL' }).default('PLAINTEXT'),
    KAFKA_SSL_CA_FILE: pemFile(),
    KAFKA_SSL_CERT_FILE: pemFile(),
    KAFKA_SSL_KEY_FILE: pemFile(),
    KAFKA_SASL_MECHANISM: z.preprocess((v) => (typeof v === 'string' ? v.toUpperCase() : v), z.enum(SASL_MECHANISMS, { message: 'expected SCRAM-SHA-512 or SCRAM-SHA-256' }).default('SCRAM-SHA-512')),
    KAFKA_SASL_USERNAME: z.string().min(1).optional(),
    KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  },
  (settings) => void kafkaSecurity(settings),
);
export type KafkaSecuritySettings = SettingsOf<typeof kafkaSecuritySettings.shape>;

/** Verified TLS of a client connection: what node-postgres, TypeORM and kafkajs take as `ssl`. */
export interface TlsClientOptions {
  readonly rejectUnauthorized: true;
  /** PEM CA certificates; Node's bundled roots when absent. */
  readonly ca?: string;
  /** PEM client certificate and key (mutual TLS). */
  readonly cert?: string;
  readonly key?: string;
  /** Set (to accept any name) for verify-ca only. */
  readonly checkServerIdentity?: () => undefined;
}

/** A SCRAM login (kafkajs' SASL option shape). */
export type ScramLogin = { readonly username: string; readonly password: string } & ({ readonly mechanism: 'scram-sha-512' } | { readonly mechanism: 'scram-sha-256' });

/** How the Kafka adapter authenticates: TLS always, SCRAM when configured. */
export interface KafkaSecurity {
  readonly ssl: TlsClientOptions;
  readonly sasl?: ScramLogin;
}

function invalid(name: string, why: string): ConfigError {
  return new ConfigError(`Invalid configuration: ${name}: ${why}`);
}

function readFile(name: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw invalid(name, `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}

/** Reads a PEM file of CA certificates (a bundle is fine), checking the first one parses. */
function readCertificates(name: string, file: string): string {
  const text = readFile(name, file);
  try {
    if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM block');
    new X509Certificate(text);
  } catch {
    throw invalid(name, `${file} holds no PEM certificate`);
  }
  return text;
}

/** Reads a client certificate and its key, checking that they belong together. */
function readClientCertificate(certName: string, certFile: string | undefined, keyName: string, keyFile: string | undefined): { cert: string; key: string } | undefined {
  if (!certFile && !keyFile) return undefined;
  if (!certFile) throw invalid(certName, `is not set, but ${keyName} is (a client certificate needs both)`);
  if (!keyFile) throw invalid(keyName, `is not set, but ${certName} is (a client certificate needs both)`);
  const cert = readCertificates(certName, certFile);
  const key = readFile(keyName, keyFile);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw invalid(keyName, `${keyFile} holds no unencrypted PEM private key`);
  }
  if (!new X509Certificate(cert).checkPrivateKey(privateKey)) throw invalid(keyName, `${keyFile} is not the key of the certificate in ${certName}`);
  return { cert, key };
}

/** The TLS options of a verified connection: CA (or Node's roots), client certificate, host name check or not. */
function verifiedTls(ca: string | undefined, client: { cert: string; key: string } | undefined, checkHostName: boolean): TlsClientOptions {
  return {
    rejectUnauthorized: true,
    ...(ca ? { ca } : {}),
    ...(client ?? {}),
    // verify-ca: the chain is verified, the name is not (Node checks it by default).
    ...(checkHostName ? {} : { checkServerIdentity: () => undefined }),
  };
}

/**
 * The `ssl` option of node-postgres (and TypeORM) for these settings: undefined for `disable`,
 * verified TLS otherwise. Throws a ConfigError naming the bad setting (an unreadable file, a key
 * that is not the certificate's, a file set while TLS is off).
 */
export function postgresTls(settings: PostgresTlsSettings): TlsClientOptions | undefined {
  if (settings.DATABASE_SSL_MODE === 'disable') {
    for (const name of ['DATABASE_SSL_CA_FILE', 'DATABASE_SSL_CERT_FILE', 'DATABASE_SSL_KEY_FILE'] as const) {
      if (settings[name]) throw invalid(name, 'is set, but DATABASE_SSL_MODE is disable (set it to verify-full)');
    }
    return undefined;
  }
  const ca = settings.DATABASE_SSL_CA_FILE ? readCertificates('DATABASE_SSL_CA_FILE', settings.DATABASE_SSL_CA_FILE) : undefined;
  const client = readClientCertificate('DATABASE_SSL_CERT_FILE', settings.DATABASE_SSL_CERT_FILE, 'DATABASE_SSL_KEY_FILE', settings.DATABASE_SSL_KEY_FILE);
  return verifiedTls(ca, client, settings.DATABASE_SSL_MODE === 'verify-full');
}

/** Query parameters of a Postgres URL that set TLS: node-postgres would let them override the settings. */
const URL_TLS_PARAMETERS = ['ssl', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslpassword', 'sslnegotiation', 'uselibpqcompat'];

/**
 * Refuses a database URL that carries TLS parameters (`?sslmode=…`): node-postgres reads them with
 * its own, non-libpq meaning, and they would silently win over DATABASE_SSL_MODE.
 */
export function assertNoTlsInUrl(name: string, url: string): void {
  let params: URLSearchParams;
  try {
    params = new URL(url).searchParams;
  } catch {
    return; // the URL's own parser reports it
  }
  const found = URL_TLS_PARAMETERS.filter((p) => params.has(p));
  if (found.length) throw invalid(name, `carries ${found.join(', ')}: set TLS with DATABASE_SSL_MODE and DATABASE_SSL_CA_FILE instead`);
}

/**
 * kafkajs' `ssl` and `sasl` options for these settings: undefined for `PLAINTEXT`. Throws a
 * ConfigError naming the bad setting.
 */
export function kafkaSecurity(settings: KafkaSecuritySettings): KafkaSecurity | undefined {
  const protocol = settings.KAFKA_SECURITY_PROTOCOL;
  if (protocol === 'PLAINTEXT') {
    for (const name of ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const) {
      if (settings[name]) throw invalid(name, 'is set, but KAFKA_SECURITY_PROTOCOL is PLAINTEXT (set it to SASL_SSL or SSL)');
    }
    return undefined;
  }
  if (protocol === 'SSL') {
    for (const name of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const) {
      if (settings[name]) throw invalid(name, 'is set, but KAFKA_SECURITY_PROTOCOL is SSL (SASL needs SASL_SSL)');
    }
  }
  if (protocol === 'SASL_SSL') {
    for (const name of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const) {
      if (!settings[name]) throw invalid(name, 'is required when KAFKA_SECURITY_PROTOCOL is SASL_SSL');
    }
  }
  const ca = settings.KAFKA_SSL_CA_FILE ? readCertificates('KAFKA_SSL_CA_FILE', settings.KAFKA_SSL_CA_FILE) : undefined;
  const client = readClientCertificate('KAFKA_SSL_CERT_FILE', settings.KAFKA_SSL_CERT_FILE, 'KAFKA_SSL_KEY_FILE', settings.KAFKA_SSL_KEY_FILE);
  const ssl = verifiedTls(ca, client, true);
  if (protocol !== 'SASL_SSL') return { ssl };
  const mechanism = settings.KAFKA_SASL_MECHANISM === 'SCRAM-SHA-256' ? 'scram-sha-256' : 'scram-sha-512';
  return { ssl, sasl: { mechanism, username: settings.KAFKA_SASL_USERNAME as string, password: settings.KAFKA_SASL_PASSWORD as string } };
}

/** OpenSSL verification failures that Node reports as error codes: a TLS peer we must not trust. */
const CERTIFICATE_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY|DECRYPT)|ALTNAME|ISSUER|CHAIN|SIGNATURE/;

/** Whether `error` (or its cause) is a failed verification of the peer's certificate. */
export function certificateError(error: unknown): { code: string; message: string } | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && CERTIFICATE_ERROR.test(code)) return { code, message: typeof message === 'string' ? message : code };
  }
  return undefined;
}

/** A TLS peer whose certificate does not verify: not worth retrying, the message says what to fix. */
export class TlsVerificationError extends Error {
  override readonly name = 'TlsVerificationError';
}

/**
 * One TLS handshake with `host:port`, to tell an untrusted certificate (which a client library would
 * retry like a network error, for a minute) from an unreachable server. Resolves `verified` or
 * `unreachable`; rejects with a TlsVerificationError naming the peer and the setting to check.
 */
export function probeTls(host: string, port: number, options: TlsClientOptions, setting: string, timeoutMs = 5_000): Promise<'verified' | 'unreachable'> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ ...options, host, port, ...(isIP(host) ? {} : { servername: host }) });
    const timer = setTimeout(() => done(() => resolve('unreachable')), timeoutMs);
    const done = (settle: () => void): void => {
      clearTimeout(timer);
      socket.destroy();
      settle();
    };
    socket.once('secureConnect', () => done(() => resolve('verified')));
    socket.once('error', (error) => {
      const bad = certificateError(error);
      done(() => (bad ? reject(untrusted(`${host}:${port}`, bad, setting)) : resolve('unreachable')));
    });
  });
}

function untrusted(peer: string, bad: { code: string; message: string }, setting: string): TlsVerificationError {
  return new TlsVerificationError(`${peer}: the server's TLS certificate is not trusted (${bad.code}: ${bad.message}); check ${setting} and the host name`);
}

/** `error` as a TlsVerificationError naming `peer` and `setting` when it is a certificate failure; else `error` itself. */
export function explainTlsFailure(error: unknown, peer: string, setting: string): unknown {
  const bad = certificateError(error);
  return bad ? untrusted(peer, bad, setting) : error;
}
