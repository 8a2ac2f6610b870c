// API keys: `dunning_<id>_<secret>`. Only a SHA-256 of the secret is stored; the key is shown once,
// at creation. A key is found by its id and its secret compared in constant time, so neither
// the lookup nor the comparison tells an attacker how much of a guess was right.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { desc, eq, isNull, sql } from 'drizzle-orm';
import type { Database } from './connection';
import { apiKeys, type ApiKeyRole } from './schema';

export interface ApiKeyInfo {
  id: string;
  name: string;
  role: ApiKeyRole;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

const KEY = /^dunning_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

const hashOf = (secret: string) => createHash('sha256').update(secret).digest('hex');

function infoOf(row: typeof apiKeys.$inferSelect): ApiKeyInfo {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    createdAt: row.createdAt.toISOString(),
    revokedAt: row.revokedAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
  };
}

/** Creates a key; the returned `key` is the only time the secret exists outside its holder. */
export async function createApiKey(db: Database, input: { name: string; role: ApiKeyRole }): Promise<ApiKeyInfo & { key: string }> {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const [row] = await db.insert(apiKeys).values({ id, name: input.name, role: input.role, secretHash: hashOf(secret) }).returning();
  return { ...infoOf(row!), key: `dunning_${id}_${secret}` };
}

export async function listApiKeys(db: Database): Promise<ApiKeyInfo[]> {
  const rows = await db.select().from(apiKeys).orderBy(desc(apiKeys.createdAt), apiKeys.id);
  return rows.map(infoOf);
}

/** Revokes a key at once (every request checks the row); undefined for an unknown id. */
export async function revokeApiKey(db: Database, id: string): Promise<ApiKeyInfo | undefined> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(eq(apiKeys.id, id))
    .returning();
  return row ? infoOf(row) : undefined;
}

/** The live key a bearer token names, or undefined (malformed, unknown, wrong secret, revoked). */
export async function authenticateApiKey(db: Database, token: string): Promise<Pick<ApiKeyInfo, 'id' | 'name' | 'role'> | undefined> {
  const match = KEY.exec(token);
  if (!match) return undefined;
  const [, id, secret] = match as unknown as [string, string, string];
  const [row] = await db
    .select({ id: apiKeys.id, name: apiKeys.name, role: apiKeys.role, secretHash: apiKeys.secretHash })
    .from(apiKeys)
    .where(sql`${apiKeys.id} = ${id} and ${isNull(apiKeys.revokedAt)}`);
  if (!row) return undefined;
  const given = Buffer.from(hashOf(secret), 'hex');
  const stored = Buffer.from(row.secretHash, 'hex');
  if (given.length !== stored.length || !timingSafeEqual(given, stored)) return undefined;
  return { id: row.id, name: row.name, role: row.role };
}
