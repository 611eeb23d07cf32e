import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, revokeSession } from '../../db/sessions';
import { findOrCreateUser } from '../../db/users';
import { generateKeySpec, parseKeyring } from '../../platform/crypto';
import { freshDatabase } from '../helpers/db';

describe('session rows', () => {
  const keyring = parseKeyring(generateKeySpec());
  let database: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    database = await freshDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("a sign-in removes the user's sessions that ended a day ago or more, and nothing else", async () => {
    const { user } = await findOrCreateUser(database.db, keyring, 'pruned@example.com', 'a long enough passphrase');
    const { user: other } = await findOrCreateUser(database.db, keyring, 'kept@example.com', 'a long enough passphrase');
    const expiredLongAgo = (await createSession(database.db, user.id)).session.id;
    const revokedLongAgo = (await createSession(database.db, user.id)).session.id;
    const revokedJustNow = (await createSession(database.db, user.id)).session.id;
    const live = (await createSession(database.db, user.id)).session.id;
    const othersExpired = (await createSession(database.db, other.id)).session.id;
    await database.db('sessions').whereIn('id', [expiredLongAgo, othersExpired]).update({ expires_at: database.db.raw(`now() - interval '2 days'`) });
    await database.db('sessions').where({ id: revokedLongAgo }).update({ revoked_at: database.db.raw(`now() - interval '2 days'`) });
    await revokeSession(database.db, revokedJustNow);

    const fresh = (await createSession(database.db, user.id)).session.id;

    const ids = (await database.db('sessions').select<{ id: string }[]>('id')).map((r) => r.id).sort();
    expect(ids).toEqual([revokedJustNow, live, othersExpired, fresh].sort());
  });
});
