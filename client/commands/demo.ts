// `dunning demo`: the sample portfolio imported and every plan initiated under the seconds-long
// `demo` policy (client/demo/), so a newcomer sees plans move right after `npm start`.
import { devServerUiUrl } from '../../worker/config';
import { outboxDir } from '../../worker/mailer';
import { durationMs } from '../../workflows/domain/duration';
import { startDemo } from '../demo/demo';
import { args, type Command } from './args';
import { shownPath, table } from './output';

const demo: Command = async (argv, out, session) => {
  args(argv, {}, []);
  const config = session.config();
  const result = await startDemo(await session.context());
  const { policy, portfolio, plans } = result;
  const started = plans.filter((p) => !p.alreadyRunning).length;
  const steps = policy.policy.steps.map((s) => `${s.key} ${s.from === 'initiated' ? `+${durationMs(s.at) / 1000} s` : `${s.at} from due`}`);
  const lastStepS = Math.max(...policy.policy.steps.map((s) => durationMs(s.at) / 1000));
  const where = [
    config.temporal.address ? 'your Temporal UI' : `the Temporal UI at ${devServerUiUrl(config.devServer)}`,
    '`dunning list`',
    `\`dunning status ${plans[0]?.planId ?? '<planId>'}\``,
    config.mail.resendApiKey ? 'Resend' : `the outbox ${shownPath(outboxDir(config))}`,
  ];
  out.print(
    [
      `Sample portfolio imported with dates relative to ${result.today}: ${portfolio.accounts} accounts, ${portfolio.rows} invoices (${portfolio.invoicesAdded} new).`,
      `Policy "${policy.name}" ${policy.saved ? `saved (version ${policy.version})` : `unchanged (version ${policy.version})`}: ${steps.join(', ')}; any time of day.`,
      started === plans.length
        ? `${started} plans initiated under "${policy.name}":`
        : `${started} plans initiated, ${plans.length - started} already running (nothing new started for those):`,
      table([
        ['PLAN', 'ACCOUNT', 'POLICY', 'JOURNEY'],
        ...plans.map((p) => [p.planId, p.accountId, p.policy, p.alreadyRunning ? 'already running' : 'initiated now']),
      ]),
      '',
      `Watch them in ${where.slice(0, -1).join(', ')} and ${where.at(-1)}.` + (started > 0 ? ` The last step falls due about ${lastStepS} s from now.` : ''),
    ].join('\n'),
    result,
  );
};

export const demoCommands: Record<string, Command> = { demo };
