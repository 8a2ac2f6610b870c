// API keys as ops manage them (`dunning apikey …`): a name, a role, shown once, revocable.
import { createApiKey as insertKey, listApiKeys as readKeys, revokeApiKey as revokeKey, type ApiKeyInfo } from '../db/api-keys';
import { apiKeyRoles, type ApiKeyRole } from '../db/schema';
import type { DatabaseContext } from './context';
import { DunningError } from './errors';

export type { ApiKeyInfo } from '../db/api-keys';

const isRole = (role: string): role is ApiKeyRole => (apiKeyRoles as readonly string[]).includes(role);

export async function createApiKey({ db }: DatabaseContext, input: { name: string; role: string }): Promise<ApiKeyInfo & { key: string }> {
  const name = input.name.trim();
  if (!isRole(input.role)) throw new DunningError(`The role must be one of ${apiKeyRoles.join(', ')}, not "${input.role}".`, 'invalid');
  if (name === '' || name.length > 100 || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new DunningError('The key name must be 1 to 100 characters with no control characters.', 'invalid');
  }
  return insertKey(db, { name, role: input.role });
}

export function listApiKeys({ db }: DatabaseContext): Promise<ApiKeyInfo[]> {
  return readKeys(db);
}

export async function revokeApiKey({ db }: DatabaseContext, input: { id: string }): Promise<ApiKeyInfo> {
  const revoked = /^[0-9a-f]{16}$/.test(input.id) ? await revokeKey(db, input.id) : undefined;
  if (!revoked) throw new DunningError(`Unknown API key "${input.id}"; see \`dunning apikey list\`.`, 'unknown_api_key');
  return revoked;
}
