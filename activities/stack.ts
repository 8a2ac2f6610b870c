import { sql } from 'drizzle-orm';
import type { ActivityDeps } from './deps';

export function createStackActivities({ db }: ActivityDeps) {
  return {
    /** Reads the database the worker was given: proof the worker, db and migrations line up. */
    async checkDatabase(_input: Record<string, never>): Promise<{ migrationsApplied: number; databaseTime: string }> {
      const [row] = await db.execute<{ applied: number; now: string }>(
        sql`select (select count(*)::int from drizzle.__drizzle_migrations) as applied, now()::text as now`,
      );
      return { migrationsApplied: row!.applied, databaseTime: row!.now };
    },
  };
}
