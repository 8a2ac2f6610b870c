// How a command reads its arguments: flags and positionals with one sentence for what is
// wrong, so every command refuses bad arguments alike.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Output } from './output';
import type { Session } from './session';

/** A command: its arguments (after the command's name), where it prints, what it connects to. */
export type Command = (argv: string[], out: Output, session: Session) => Promise<void>;

/** A refusal of the command line itself (arguments, files); printed as its one sentence. */
export class CliError extends Error {
  override name = 'CliError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

export function args<O extends Options>(argv: string[], options: O, positionals: string[]) {
  // `--amount -5` would read as an option named 5: bind such values to their flag so the
  // command can say what is wrong with the number itself.
  const bound: string[] = [];
  for (const token of argv) {
    const flag = bound[bound.length - 1];
    if (/^-\d/.test(token) && flag?.startsWith('--') && !flag.includes('=') && options[flag.slice(2)]?.type === 'string') {
      bound[bound.length - 1] = `${flag}=${token}`;
    } else bound.push(token);
  }
  const parsed = parseArgs({ args: bound, options: { ...options, json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  const missing = positionals.slice(parsed.positionals.length);
  if (missing.length > 0) throw new CliError(`Missing ${missing.join(' and ')}; run \`dunning --help\`.`);
  if (parsed.positionals.length > positionals.length) {
    throw new CliError(`Unexpected argument "${parsed.positionals[positionals.length]}"; run \`dunning --help\`.`);
  }
  return parsed;
}

export function required(value: string | boolean | undefined, flag: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new CliError(`--${flag} is required.`);
  return value;
}

/** A flag's text, or undefined when it was not given. */
export function optional(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
