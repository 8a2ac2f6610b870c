// Which mail provider a process sends through, decided from the config in one place: Resend
// when RESEND_API_KEY is set, otherwise the outbox under the data dir.
import path from 'node:path';
import { createOutboxMailer, type Mailer } from '../activities/mail';
import { createResendMailer } from '../activities/resend-mailer';
import type { DunningConfig } from './config';

export interface MailSetup {
  mailer: Mailer;
  kind: 'outbox' | 'resend';
  /** The outbox folder, or the Resend endpoint (for the start-up summary). */
  where: string;
}

/** The outbox folder of a data dir: one .eml per message and the journal of every write. */
export function outboxDir(config: Pick<DunningConfig, 'dataDir'>): string {
  return path.join(config.dataDir, 'outbox');
}

export function mailerFromConfig(config: Pick<DunningConfig, 'dataDir' | 'mail'>): MailSetup {
  const { resendApiKey, resendBaseUrl } = config.mail;
  if (resendApiKey) {
    return { mailer: createResendMailer({ apiKey: resendApiKey, baseUrl: resendBaseUrl }), kind: 'resend', where: resendBaseUrl ?? 'the Resend API' };
  }
  const dir = outboxDir(config);
  return { mailer: createOutboxMailer(dir), kind: 'outbox', where: dir };
}
