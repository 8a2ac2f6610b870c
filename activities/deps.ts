import type { Database } from '../db/connection';
import type { DunningConfig } from '../worker/config';
import type { Clock } from './clock';
import type { Mailer } from './mail';

/** Everything activities touch comes in here; nothing reaches for a global client. */
export interface ActivityDeps {
  db: Database;
  mailer: Mailer;
  clock: Clock;
  /** Only the mail, webhook and pay link settings: a full DunningConfig fits, and a test needs to build no more. */
  config: Pick<DunningConfig, 'mail' | 'webhooks' | 'payLink'>;
}
