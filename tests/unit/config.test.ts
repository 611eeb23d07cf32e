import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, workerPlaysNice } from '../../platform/config';
import { generateKeySpec } from '../../platform/crypto';

const valid = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db', WYSERA_ENCRYPTION_KEYS: generateKeySpec() };

describe('loadConfig', () => {
  it('applies defaults to a minimal environment', () => {
    const config = loadConfig(valid);
    expect(config.PORT).toBe(3000);
    expect(config.TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
    expect(config.WYSERA_ENCRYPTION_KEYS.activeKeyId).toBe('k1');
    expect([config.LOGIN_FAILURES_PER_EMAIL, config.LOGIN_FAILURES_PER_ADDRESS]).toEqual([10, 100]);
    expect(loadConfig({ ...valid, LOGIN_FAILURES_PER_EMAIL: '0' }).LOGIN_FAILURES_PER_EMAIL).toBe(0);
    expect([config.SIGNALS_REQUESTS_PER_MINUTE, loadConfig({ ...valid, SIGNALS_REQUESTS_PER_MINUTE: '0' }).SIGNALS_REQUESTS_PER_MINUTE]).toEqual([600, 0]);
  });

  it('names every missing or bad variable at once', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', TEMPORAL_ADDRESS: 'no port', LOG_LEVEL: 'loud' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['DATABASE_URL', 'WYSERA_ENCRYPTION_KEYS', 'PORT', 'TEMPORAL_ADDRESS', 'LOG_LEVEL']) {
      expect(problems).toContain(name);
    }
    expect((error as ConfigError).problems).toHaveLength(5);
  });

  it("keeps product signals 400 days by default, forever with 0, and never less than the plays' 60-day windows need", () => {
    expect(loadConfig(valid).PRODUCT_SIGNALS_RETENTION_DAYS).toBe(400);
    expect(loadConfig({ ...valid, PRODUCT_SIGNALS_RETENTION_DAYS: '0' }).PRODUCT_SIGNALS_RETENTION_DAYS).toBe(0);
    expect(() => loadConfig({ ...valid, PRODUCT_SIGNALS_RETENTION_DAYS: '30' })).toThrow(/PRODUCT_SIGNALS_RETENTION_DAYS must be 0 \(keep every signal\) or 90 to 3650 days/);
  });

  it('keeps inbox events 35 days by default, forever with 0, and never less than Stripe resends them', () => {
    expect(loadConfig(valid).INBOX_RETENTION_DAYS).toBe(35);
    expect(loadConfig({ ...valid, INBOX_RETENTION_DAYS: '0' }).INBOX_RETENTION_DAYS).toBe(0);
    expect(loadConfig({ ...valid, INBOX_RETENTION_DAYS: '90' }).INBOX_RETENTION_DAYS).toBe(90);
    expect(() => loadConfig({ ...valid, INBOX_RETENTION_DAYS: '7' })).toThrow(/INBOX_RETENTION_DAYS must be 0 \(keep every event\) or 30 to 3650 days/);
  });

  it('runs the plays 10 nice values below the relay by default, 0 to 19 allowed', () => {
    expect(loadConfig(valid).WORKER_PLAYS_NICE).toBe(10);
    expect(loadConfig({ ...valid, WORKER_PLAYS_NICE: '0' }).WORKER_PLAYS_NICE).toBe(0);
    expect(() => loadConfig({ ...valid, WORKER_PLAYS_NICE: '20' })).toThrow(/WORKER_PLAYS_NICE/);
    expect(() => loadConfig({ ...valid, WORKER_PLAYS_NICE: '-1' })).toThrow(/WORKER_PLAYS_NICE/);
    // What a tool that starts a worker reports: the same value the worker reads.
    expect(workerPlaysNice({})).toBe(10);
    expect(workerPlaysNice({ WORKER_PLAYS_NICE: '' })).toBe(10);
    expect(workerPlaysNice({ WORKER_PLAYS_NICE: '3' })).toBe(3);
  });

  it('takes a public URL over https, or http on this machine only, for reset links', () => {
    expect(loadConfig(valid).WYSERA_PUBLIC_URL).toBeUndefined();
    for (const url of ['https://wysera.example.com', 'http://localhost:3000', 'http://127.0.0.1:3000/']) expect(loadConfig({ ...valid, WYSERA_PUBLIC_URL: url }).WYSERA_PUBLIC_URL).toBe(url);
    for (const url of ['http://wysera.example.com', 'http://localhost.evil.example', 'ftp://localhost']) expect(() => loadConfig({ ...valid, WYSERA_PUBLIC_URL: url }), url).toThrow(/WYSERA_PUBLIC_URL/);
    expect(loadConfig(valid).PASSWORD_RESETS_PER_ADDRESS).toBe(20);
  });

  it('explains a malformed encryption key', () => {
    expect(() => loadConfig({ ...valid, WYSERA_ENCRYPTION_KEYS: 'k1:c2hvcnQ=' })).toThrow(/WYSERA_ENCRYPTION_KEYS key "k1" must be 32 bytes/);
  });

  it('takes the worker cache size as 0 or at least 2, and leaves both SDK settings unset by default', () => {
    expect([loadConfig(valid).WORKER_MAX_CACHED_WORKFLOWS, loadConfig(valid).TEMPORAL_SDK_METRICS_PORT]).toEqual([undefined, undefined]);
    expect(loadConfig({ ...valid, WORKER_MAX_CACHED_WORKFLOWS: '0' }).WORKER_MAX_CACHED_WORKFLOWS).toBe(0);
    expect(loadConfig({ ...valid, WORKER_MAX_CACHED_WORKFLOWS: '20000', TEMPORAL_SDK_METRICS_PORT: '9465' })).toMatchObject({ WORKER_MAX_CACHED_WORKFLOWS: 20000, TEMPORAL_SDK_METRICS_PORT: 9465 });
    expect(() => loadConfig({ ...valid, WORKER_MAX_CACHED_WORKFLOWS: '1' })).toThrow(/WORKER_MAX_CACHED_WORKFLOWS must be 0 \(no cache\) or at least 2/);
    expect(() => loadConfig({ ...valid, TEMPORAL_SDK_METRICS_PORT: '0' })).toThrow(/TEMPORAL_SDK_METRICS_PORT/);
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ ...valid, PORT: '' }).PORT).toBe(3000);
  });
});
