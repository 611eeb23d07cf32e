import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * Password hashing with scrypt (memory-hard, in node:crypto). Each hash keeps its
 * salt and parameters beside it, so the parameters can be raised later without
 * invalidating existing passwords: a hash is checked with the parameters it was made
 * with.
 */
export const passwordParamsSchema = z.strictObject({
  N: z.number().int().min(1024),
  r: z.number().int().min(1).max(64),
  p: z.number().int().min(1).max(16),
  keylen: z.number().int().min(32).max(128),
});
export type PasswordParams = z.infer<typeof passwordParamsSchema>;

/** One of OWASP's recommended scrypt settings (N=2^15, r=8, p=3): 32 MiB of memory a check. */
export const DEFAULT_PASSWORD_PARAMS: PasswordParams = { N: 2 ** 15, r: 8, p: 3, keylen: 64 };

export interface PasswordHash {
  hash: string;
  salt: string;
  params: PasswordParams;
}

/** Passwords people choose: long enough to resist guessing under the login rate limit, short enough to hash cheaply. */
export const passwordSchema = z.string().min(12, 'must be at least 12 characters').max(1024, 'must be at most 1024 characters');

const derive = (password: string, salt: Buffer, params: PasswordParams) =>
  new Promise<Buffer>((resolve, reject) => {
    // NFC: the same password typed on two systems that compose accents differently still matches.
    scrypt(password.normalize('NFC'), salt, params.keylen, { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });

export async function hashPassword(password: string, params: PasswordParams = DEFAULT_PASSWORD_PARAMS): Promise<PasswordHash> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return { hash: key.toString('base64'), salt: salt.toString('base64'), params };
}

export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const expected = Buffer.from(stored.hash, 'base64');
  const actual = await derive(password, Buffer.from(stored.salt, 'base64'), stored.params);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

// A hash of a random password, made once: checking against it costs what a real check costs.
let decoy: Promise<PasswordHash> | undefined;

/**
 * The work of a password check without an account: a login with an unknown email
 * takes as long as one with a wrong password, so timing does not tell which emails
 * have accounts.
 */
export async function checkAgainstDecoy(password: string): Promise<false> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  await verifyPassword(password, await decoy);
  return false;
}

/** A generated password: 144 random bits, 24 characters of base64url. */
export const generatePassword = () => randomBytes(18).toString('base64url');
