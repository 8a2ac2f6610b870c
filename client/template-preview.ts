// An email as a plan's contact would receive it today, rendered for a person to look at.
import { isTemplateName, renderEmail, templateNames, transactionalTemplates, type RenderedEmail } from '../templates';
import { emailContextFor } from '../templates/context';
import { payLinkSettings } from '../templates/pay-link';
import type { DunningConfig } from '../worker/config';
import { requirePlan, type DatabaseContext } from './context';
import { DunningError } from './errors';

const previewPromiseDays = 7; // a plausible promised date for the promise templates

export async function renderTemplatePreview(
  ctx: DatabaseContext & { config: Pick<DunningConfig, 'mail' | 'payLink'> },
  input: { template: string; planId: string; now?: Date },
): Promise<RenderedEmail & { template: string; planId: string }> {
  const { template, planId } = input;
  if (!isTemplateName(template)) throw new DunningError(`Unknown template "${template}"; one of ${templateNames.join(', ')}.`, 'invalid');
  const plan = await requirePlan(ctx.db, planId);
  const now = input.now ?? new Date();
  const rendered = renderEmail(
    template,
    emailContextFor(plan, {
      at: now,
      optOutUrl: ctx.config.mail.optOutUrl,
      // As the journey would send it: a dunning email carries the pay button, valid from now.
      payLink: transactionalTemplates.includes(template) ? undefined : payLinkSettings(ctx.config.payLink),
      promise: { amountMinor: plan.outstandingMinor, dueAt: new Date(now.getTime() + previewPromiseDays * 86_400_000).toISOString(), installments: 1 },
      payment: { amountMinor: plan.outstandingMinor, paymentId: 'PREVIEW' },
    }),
  );
  return { template, planId, ...rendered };
}
