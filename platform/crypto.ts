import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Encryption of secrets at rest with AES-256-GCM. A sealed value is
 * `v1.<keyId>.<iv>.<tag>.<ciphertext>` (base64url parts), so the key that sealed it
 * travels with it and keys can rotate: the first key in the ring seals, any key in
 * the ring opens. The context (e.g. "workspace:ws_1:webhook_secret") is bound as
 * additional authenticated data, so a ciphertext copied to another row won't open.
 */
export interface Keyring {
  activeKeyId: string;
  keys: ReadonlyMap<string, Buffer>;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** Parses `id:base64key[,id:base64key...]`; the first key is the active one. */
export function parseKeyring(spec: string): Keyring {
  const keys = new Map<string, Buffer>();
  let activeKeyId = '';
  for (const [index, entry] of spec.split(',').entries()) {
    const [id, b64, ...rest] = entry.trim().split(':');
    if (!id || !b64 || rest.length || !KEY_ID.test(id)) {
      throw new Error(`key ${index + 1} must look like <id>:<base64 of 32 bytes>, with an id of letters, digits, _ or -`);
    }
    const key = Buffer.from(b64, 'base64');
    if (key.length !== 32) throw new Error(`key "${id}" must be 32 bytes, base64-encoded (got ${key.length} bytes)`);
    if (keys.has(id)) throw new Error(`key id "${id}" appears twice`);
    keys.set(id, key);
    if (index === 0) activeKeyId = id;
  }
  return { activeKeyId, keys };
}

/** A new random key spec, for first runs and tests. */
export function generateKeySpec(id = 'k1'): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

export function seal(ring: Keyring, plaintext: string, context: string): string {
  const key = ring.keys.get(ring.activeKeyId);
  if (!key) throw new Error('the keyring has no active key');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', ring.activeKeyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join('.');
}

export function open(ring: Keyring, sealed: string, context: string): string {
  const [version, keyId, iv, tag, ciphertext, ...rest] = sealed.split('.');
  if (version !== 'v1' || !keyId || !iv || !tag || ciphertext === undefined || rest.length) {
    throw new Error('not a sealed value');
  }
  const key = ring.keys.get(keyId);
  if (!key) throw new Error(`sealed with key "${keyId}", which is not in the keyring`);
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}

/** The id of the key that sealed a value (for rotation: re-seal those not under the active key). */
export function sealedKeyId(sealed: string): string | undefined {
  return sealed.split('.')[1];
}

/**
 * A keyed hash for finding sealed values without opening them: HMAC-SHA256 of the
 * input under a key derived (HKDF) from a keyring key for one purpose, returned as
 * `<keyId>.<hex>` so a rotation can tell which rows still hash under an old key.
 * Distinct purposes give unrelated hashes of the same input.
 */
export function keyedHash(ring: Keyring, purpose: string, input: string, keyId = ring.activeKeyId): string {
  const key = ring.keys.get(keyId);
  if (!key) throw new Error(`key "${keyId}" is not in the keyring`);
  const derived = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), purpose, 32));
  return `${keyId}.${createHmac('sha256', derived).update(input).digest('hex')}`;
}

/** The hashes an input may be stored under: one per key in the ring (old and new during a rotation). */
export const keyedHashes = (ring: Keyring, purpose: string, input: string) => [...ring.keys.keys()].map((id) => keyedHash(ring, purpose, input, id));
