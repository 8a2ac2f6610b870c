// Email consent: recorded when a contact opts out (the link in every email leads here, or the
// AR mailbox receives the mailto: opt-out) and checked again at every send.
import { eq, sql } from 'drizzle-orm';
import { contacts } from '../db/schema';
import type { EmailConsent } from '../workflows/domain/statuses';
import type { DatabaseContext } from './context';
import { DunningError } from './errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Sets consent for a contact id (from the opt-out link) or for every contact with an email
 * address. No later dunning step emails an opted-out contact; the plan goes to a rep instead.
 */
export async function setConsent({ db }: DatabaseContext, input: { contact: string; consent: EmailConsent }): Promise<{ contacts: number }> {
  const where = UUID.test(input.contact) ? eq(contacts.id, input.contact) : eq(contacts.email, input.contact.trim().toLowerCase());
  const updated = await db
    .update(contacts)
    .set({
      emailConsent: input.consent,
      consentChangedAt: sql`case when ${contacts.emailConsent} = ${input.consent} then ${contacts.consentChangedAt} else now() end`,
    })
    .where(where)
    .returning({ id: contacts.id });
  if (updated.length === 0) throw new DunningError(`No contact "${input.contact}".`, 'unknown_contact');
  return { contacts: updated.length };
}
