import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConfigError } from './config';

/**
 * The published development key (id `dev`): used only outside production when
 * PII_ENCRYPTION_KEYS is unset, so that `npm start` works out of the box. Anything encrypted with
 * it is effectively plaintext to whoever reads this file. Production refuses to start with it.
 */
export const DEVELOPMENT_PII_KEYS = 'dev:ZGV2ZWxvcG1lbnQtb25seS1waWkta2V5LWNoYW5nZSE';

/** The setting holding the keys (PII_ENCRYPTION_KEYS): `keyId:base64(32 bytes)[,…]`, the first key encrypts. */
export const piiKeysSetting = () =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/=_-]{43,44}(,[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/=_-]{43,44})*$/, 'expected keyId:base64(32 bytes)[,keyId:base64(32 bytes)…]');

const VERSION = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM for personal data at rest. Each value gets a random 96-bit nonce; the stored text is
 * `v1:<keyId>:<base64url(nonce | ciphertext | tag)>`, so that a key can be rotated (new values use
 * the first key, old ones still decrypt with theirs). The associated data binds a value to its
 * place (`phone:<userId>`), so a ciphertext copied into another row or column fails to decrypt.
 */
export class PiiCipher {
  private readonly keys: ReadonlyMap<string, Buffer>;
  private readonly activeKeyId: string;

  /** `spec` is `keyId:base64(32 bytes)[,…]` (PII_ENCRYPTION_KEYS); the first key encrypts. */
  constructor(spec: string) {
    const keys = new Map<string, Buffer>();
    for (const entry of spec.split(',')) {
      const [id = '', material = ''] = entry.split(':');
      const key = Buffer.from(material, 'base64');
      if (key.length !== 32) throw new ConfigError(`Invalid configuration: PII_ENCRYPTION_KEYS: key "${id}" must be 32 bytes (base64), got ${key.length}`);
      if (keys.has(id)) throw new ConfigError(`Invalid configuration: PII_ENCRYPTION_KEYS: key id "${id}" appears twice`);
      keys.set(id, key);
    }
    const active = spec.split(':')[0];
    if (!active) throw new ConfigError('Invalid configuration: PII_ENCRYPTION_KEYS: no key');
    this.keys = keys;
    this.activeKeyId = active;
  }

  /** The id of the key new values are encrypted with. */
  get keyId(): string {
    return this.activeKeyId;
  }

  encrypt(plaintext: string, context: string): string {
    const key = this.keys.get(this.activeKeyId)!;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${VERSION}:${this.activeKeyId}:${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url')}`;
  }

  /** Throws when the value was tampered with, moved to another `context`, or its key is unknown. */
  decrypt(stored: string, context: string): string {
    const [version, keyId = '', payload = ''] = stored.split(':');
    if (version !== VERSION) throw new Error(`Unsupported PII envelope version ${version}`);
    const key = this.keys.get(keyId);
    if (!key) throw new Error(`Unknown PII key id "${keyId}" (is it missing from PII_ENCRYPTION_KEYS?)`);
    const raw = Buffer.from(payload, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  }

  encryptNullable(plaintext: string | null, context: string): string | null {
    return plaintext === null ? null : this.encrypt(plaintext, context);
  }

  decryptNullable(stored: string | null, context: string): string | null {
    return stored === null ? null : this.decrypt(stored, context);
  }
}
