// A zod refusal as the one sentence the API answers with (and every issue under `errors`):
// the rules' own sentences name their field; zod's generic ones get the field put in front.
import type { z } from '@hono/zod-openapi';
import type { Problem } from './problems';

type Issue = z.core.$ZodIssue;

const where: Record<string, string> = { json: 'The request body', query: 'The query', param: 'The path' };

function pathText(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${String(part)}` : String(part)), '');
}

/** Fills a rule's "invoices[].number" with the indexes of the issue's path. */
function withIndexes(message: string, path: readonly PropertyKey[]): string {
  const indexes = path.filter((p): p is number => typeof p === 'number');
  let i = 0;
  return message.replace(/\[\]/g, () => (i < indexes.length ? `[${indexes[i++]}]` : '[]'));
}

const article = (type: string) => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);

/** zod's names for what it expected, in the words of JSON. */
const typeNames: Record<string, string> = { record: 'object', int: 'whole number', bigint: 'whole number' };
const typeName = (expected: string) => typeNames[expected] ?? expected;

/** What the caller sent at `path` ("null", "a string", …), or undefined when nothing is there. */
function sentAt(input: unknown, path: readonly PropertyKey[]): { value: unknown } | undefined {
  let here: unknown = input;
  for (const part of path) {
    if (here === null || typeof here !== 'object' || !Object.hasOwn(here, part)) return undefined;
    here = (here as Record<PropertyKey, unknown>)[part];
  }
  return here === undefined ? undefined : { value: here };
}

const kindOf = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'an array' : article(typeof value === 'object' ? 'object' : typeof value));

/** A bound as words: "at most 200 characters", "at least one item", "at most 20". */
function bound(issue: Extract<Issue, { code: 'too_big' | 'too_small' }>): string {
  const limit = Number(issue.code === 'too_big' ? issue.maximum : issue.minimum);
  const unit = issue.origin === 'string' ? ' character' : issue.origin === 'array' || issue.origin === 'set' ? ' item' : '';
  const strict = issue.inclusive === false;
  const which = issue.code === 'too_big' ? (strict ? 'less than' : 'at most') : strict ? 'more than' : 'at least';
  return `${which} ${limit}${unit}${unit && limit !== 1 ? 's' : ''}`;
}

const lowerFirst = (text: string) => `${text.charAt(0).toLowerCase()}${text.slice(1)}`;

/**
 * The sentence for one issue (without its period). `input` is what was sent: zod drops an
 * issue's input, and "is required" must not be said of a field that was sent with a wrong type.
 */
export function issueSentence(issue: Issue, target: string, input?: unknown): string {
  const name = pathText(issue.path);
  const subject = name || where[target] || 'The request';
  const param = target === 'query' ? 'parameter' : 'field';
  const message = withIndexes(issue.message, issue.path);
  // A rule's own message says what is wrong in words; zod's generic ones are replaced below.
  const generic = /^(Invalid|Too (big|small)|Unrecognized)/.test(issue.message);
  const last = issue.path[issue.path.length - 1];
  const named = !name || message.startsWith(name) || (last !== undefined && message.startsWith(String(last)));
  const own = named ? message : `${name} ${lowerFirst(message)}`;
  switch (issue.code) {
    case 'unrecognized_keys':
      return `${subject} has ${issue.keys.length > 1 ? `unknown ${param}s` : `an unknown ${param}`} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_type': {
      const sent = sentAt(input, issue.path);
      if (!sent) return `${subject} is required`;
      return generic ? `${subject} must be ${article(typeName(issue.expected))}, not ${kindOf(sent.value)}` : own;
    }
    case 'invalid_value':
      if (!generic) return own;
      return issue.values.length === 1 ? `${subject} must be ${JSON.stringify(issue.values[0])}` : `${subject} must be one of ${issue.values.map(String).join(', ')}`;
    case 'too_big':
    case 'too_small':
      if (!generic) return own;
      return `${subject} must ${issue.origin === 'string' || issue.origin === 'array' ? 'hold' : 'be'} ${bound(issue)}`;
    default:
      return generic ? `${subject} is not valid` : own;
  }
}

export function validationProblem(error: z.ZodError, target: string, input?: unknown): { detail: string; errors: NonNullable<Problem['errors']> } {
  const errors = error.issues.map((issue) => ({ path: pathText(issue.path), message: `${issueSentence(issue, target, input)}.` }));
  return { detail: errors[0]!.message, errors };
}
