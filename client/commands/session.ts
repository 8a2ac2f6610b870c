// The connections a command needs, opened on first use and closed at exit: `dunning status`
// reads PostgreSQL only and never waits for Temporal, nor loads its client.
import type { Client } from '@temporalio/client';
import { connectDatabase, type DatabaseHandle } from '../../db/connection';
import { embeddedDatabaseUrl } from '../../db/embedded';
import { loadConfig, type DunningConfig } from '../../worker/config';
import type { DunningClient } from '../connection';
import type { DatabaseContext, DunningContext } from '../context';
import { CliError } from './args';

export class Session {
  #config: DunningConfig | undefined;
  #db: DatabaseHandle | undefined;
  #temporal: DunningClient | undefined;

  config(): DunningConfig {
    return (this.#config ??= loadConfig());
  }

  async database(): Promise<DatabaseContext> {
    if (this.#db) return { db: this.#db.db };
    const c = this.config();
    const url = c.postgres.url ?? embeddedDatabaseUrl(c.postgres.port, c.postgres.database);
    const handle = connectDatabase(url, { max: 2 });
    try {
      await handle.sql`select 1`;
    } catch {
      await handle.close();
      throw new CliError(
        c.postgres.url
          ? 'Cannot reach PostgreSQL at DATABASE_URL.'
          : `Cannot reach the embedded PostgreSQL on port ${c.postgres.port}; start the engine with \`npm start\` or set DATABASE_URL.`,
      );
    }
    this.#db = handle;
    return { db: handle.db };
  }

  async temporal(): Promise<Client> {
    if (!this.#temporal) {
      const { connectClient } = await import('../connection');
      this.#temporal = await connectClient(this.config());
    }
    return this.#temporal.client;
  }

  /** Database, Temporal and config: what the journey's verbs need. */
  async context(): Promise<DunningContext> {
    const { db } = await this.database();
    return { client: await this.temporal(), db, config: this.config() };
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#db?.close(), this.#temporal?.close()]);
  }
}
