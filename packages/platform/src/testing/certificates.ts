import { execFileSync } from 'node:child_process';
import { chownSync, chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A PEM certificate and its unencrypted PKCS#8 key, as files. */
export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** What a leaf certificate is for and whom it names. */
export interface LeafOptions {
  /** Subject common name (for a Postgres client certificate: the role it logs in as). */
  readonly commonName: string;
  /** subjectAltName DNS names and IP addresses (a server's names; none for a client). */
  readonly dns?: readonly string[];
  readonly ip?: readonly string[];
}

/**
 * Test certificates made with openssl at test time (nothing is checked in): certificate
 * authorities and the leaf certificates they sign, in `dir`. EC P-256 keys (fast to make),
 * PKCS#8 PEM (what Postgres, Node and Kafka's PEM key stores read), valid for two days.
 */
export class TestCertificates {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** A self-signed certificate authority named `name`. */
  authority(name: string): CertificateFiles {
    const files = this.files(name);
    this.key(files.keyFile);
    openssl(['req', '-x509', '-new', '-key', files.keyFile, '-subj', `/CN=${name}`, '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', files.certFile]);
    return files;
  }

  /** A certificate for a server and a client (serverAuth and clientAuth) signed by `ca`. */
  leaf(ca: CertificateFiles, name: string, options: LeafOptions): CertificateFiles {
    const files = this.files(name);
    this.key(files.keyFile);
    const csr = path.join(this.dir, `${name}.csr`);
    const extensions = path.join(this.dir, `${name}.ext`);
    const names = [...(options.dns ?? []).map((d) => `DNS:${d}`), ...(options.ip ?? []).map((ip) => `IP:${ip}`)];
    writeFileSync(extensions, [`basicConstraints=CA:FALSE`, `keyUsage=critical,digitalSignature`, `extendedKeyUsage=serverAuth,clientAuth`, ...(names.length ? [`subjectAltName=${names.join(',')}`] : [])].join('\n'));
    openssl(['req', '-new', '-key', files.keyFile, '-subj', `/CN=${options.commonName}`, '-out', csr]);
    openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', `0x${Date.now().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`, '-days', '2', '-extfile', extensions, '-out', files.certFile]);
    return files;
  }

  /** Makes `files` readable by the system user `user` only (Postgres refuses a key others can read; as root it runs as `postgres`). */
  ownBy(user: string, files: CertificateFiles): void {
    chmodSync(files.keyFile, 0o600);
    if (process.getuid?.() !== 0) return;
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }));
    for (const file of [files.certFile, files.keyFile]) chownSync(file, uid, gid);
  }

  private files(name: string): CertificateFiles {
    return { certFile: path.join(this.dir, `${name}.crt`), keyFile: path.join(this.dir, `${name}.key`) };
  }

  private key(file: string): void {
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
  }
}

function openssl(args: readonly string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`openssl ${args[0]} failed: ${stderr || String(error)} (the TLS tests need openssl: apt-get install openssl)`);
  }
}
