// Rep console sessions. The cookie holds a random id; the row holds only its SHA-256, the key it
// was opened with and the CSRF token its forms carry. Every read checks the key again, as the
// API does on every request, so revoking a key ends its sessions at once.
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, isNull, lt } from 'drizzle-orm';
import type { Database } from './connection';
import { apiKeys, consoleSessions, type ApiKeyRole } from './schema';

/** How long a sign-in lasts: a working day. */
export const SESSION_SECONDS = 8 * 60 * 60;

export interface ConsoleSession {
  apiKeyId: string;
  name: string;
  role: ApiKeyRole;
  csrfToken: string;
  /** IANA name; times on the console's pages are written in it. */
  timeZone: string;
}

const hashOf = (id: string) => createHash('sha256').update(id).digest('hex');

/** Opens a session for a live key; the returned `id` goes into the cookie and nowhere else. */
export async function openConsoleSession(db: Database, apiKeyId: string, timeZone: string): Promise<{ id: string; csrfToken: string; maxAgeSeconds: number }> {
  const id = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(32).toString('base64url');
  // Expired rows of anyone are swept here, so the table holds about one row per signed-in rep.
  await db.delete(consoleSessions).where(lt(consoleSessions.expiresAt, new Date()));
  await db.insert(consoleSessions).values({ idHash: hashOf(id), apiKeyId, csrfToken, timeZone, expiresAt: new Date(Date.now() + SESSION_SECONDS * 1000) });
  return { id, csrfToken, maxAgeSeconds: SESSION_SECONDS };
}

/** The session a cookie names, if unexpired and its key not revoked. */
export async function readConsoleSession(db: Database, id: string): Promise<ConsoleSession | undefined> {
  const [row] = await db
    .select({ apiKeyId: apiKeys.id, name: apiKeys.name, role: apiKeys.role, csrfToken: consoleSessions.csrfToken, timeZone: consoleSessions.timeZone })
    .from(consoleSessions)
    .innerJoin(apiKeys, eq(apiKeys.id, consoleSessions.apiKeyId))
    .where(and(eq(consoleSessions.idHash, hashOf(id)), gt(consoleSessions.expiresAt, new Date()), isNull(apiKeys.revokedAt)));
  return row;
}

export async function closeConsoleSession(db: Database, id: string): Promise<void> {
  await db.delete(consoleSessions).where(eq(consoleSessions.idHash, hashOf(id)));
}
