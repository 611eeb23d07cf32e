import { describe, expect, it } from 'vitest';
import { generateKeySpec, open, parseKeyring, seal, sealedKeyId } from '../../platform/crypto';

describe('secret sealing', () => {
  const ring = parseKeyring(generateKeySpec('k1'));

  it('round-trips and never contains the plaintext', () => {
    const sealed = seal(ring, 'whsec_topsecret', 'workspace:ws_1:webhook_secret');
    expect(sealed).not.toContain('topsecret');
    expect(open(ring, sealed, 'workspace:ws_1:webhook_secret')).toBe('whsec_topsecret');
  });

  it('uses a fresh IV each time', () => {
    expect(seal(ring, 'x', 'c')).not.toBe(seal(ring, 'x', 'c'));
  });

  it('refuses a ciphertext moved to another context', () => {
    const sealed = seal(ring, 'whsec_a', 'workspace:ws_1:webhook_secret');
    expect(() => open(ring, sealed, 'workspace:ws_2:webhook_secret')).toThrow();
  });

  it('refuses a tampered ciphertext', () => {
    const sealed = seal(ring, 'whsec_a', 'c');
    const parts = sealed.split('.');
    const ct = Buffer.from(parts[4]!, 'base64url');
    ct[0] = ct[0]! ^ 1;
    parts[4] = ct.toString('base64url');
    expect(() => open(ring, parts.join('.'), 'c')).toThrow();
  });

  it('opens values sealed under an older key after rotation', () => {
    const old = parseKeyring(generateKeySpec('k1'));
    const sealed = seal(old, 'secret', 'c');
    const k1 = [...old.keys.entries()][0]![1].toString('base64');
    const rotated = parseKeyring(`${generateKeySpec('k2')},k1:${k1}`);
    expect(rotated.activeKeyId).toBe('k2');
    expect(open(rotated, sealed, 'c')).toBe('secret');
    expect(sealedKeyId(seal(rotated, 'secret', 'c'))).toBe('k2');
  });

  it('names the problem in a bad key spec', () => {
    expect(() => parseKeyring('nocolon')).toThrow(/key 1 must look like/);
    expect(() => parseKeyring(`${generateKeySpec('a')},${generateKeySpec('a')}`)).toThrow(/appears twice/);
  });
});
