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

export function issueSentence(issue: Issue, target: string): string {
  const name = pathText(issue.path);
  const subject = name || where[target] || 'The request';
  const param = target === 'query' ? 'parameter' : 'field';
  switch (issue.code) {
    case 'unrecognized_keys':
      return `${subject} has ${issue.keys.length > 1 ? `unknown ${param}s` : `an unknown ${param}`} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_type':
      if (issue.input === undefined) return name ? `${name} is required` : `${subject} is required`;
      if (!issue.message.startsWith('Invalid input')) return withIndexes(issue.message, issue.path);
      return `${subject} must be ${article(issue.expected)}`;
    default: {
      const message = withIndexes(issue.message, issue.path);
      // A rule's message starts with its field's name; zod's own ones do not.
      const own = name && (message.startsWith(name) || message.startsWith(String(issue.path[issue.path.length - 1])));
      return own || !name ? message.replace(/^Invalid input$/, `${subject} is not valid`) : `${name} ${message.charAt(0).toLowerCase()}${message.slice(1)}`;
    }
  }
}

export function validationProblem(error: z.ZodError, target: string): { detail: string; errors: NonNullable<Problem['errors']> } {
  const errors = error.issues.map((issue) => ({ path: pathText(issue.path), message: `${issueSentence(issue, target)}.` }));
  return { detail: errors[0]!.message, errors };
}
