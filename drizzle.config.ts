import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes a migration for schema changes; commit it. Start applies them.
export default defineConfig({ dialect: 'postgresql', schema: './db/schema.ts', out: './db/migrations' });
