// The committed OpenAPI document (client/http/openapi.json) as a contract every answer must meet:
// the operation is found by method and path template, its status must be documented, and the
// body must match the schema for that status and content type. OpenAPI 3.1 schemas are JSON
// Schema 2020-12, so Ajv's 2020 build validates them; `$ref`s resolve to components/schemas.
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020';
import { openApiPath } from '../client/http/openapi';

interface MediaType {
  schema?: Record<string, unknown>;
}
interface Operation {
  responses: Record<string, { content?: Record<string, MediaType> }>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  webhooks: Record<string, { post: { requestBody: { content: Record<string, MediaType> } } }>;
  components: { schemas: Record<string, unknown> };
}

const doc = JSON.parse(readFileSync(openApiPath, 'utf8')) as Document;

const ajv = new Ajv2020({ allErrors: true, strict: true });
// OpenAPI's own annotation, not a JSON Schema keyword.
ajv.addKeyword({ keyword: 'example' });
// The formats the document names, checked loosely: the shape is what the contract promises.
ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d{2}-\d{2}T/.test(s));
ajv.addFormat('email', /^[^\s@]+@[^\s@]+$/);
ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
// The component schemas as the $defs of one schema, so every `#/components/schemas/X` resolves.
const DOC_ID = 'urn:dunning:openapi';
const rebase = (schema: unknown, base: string) => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', `"${base}#/$defs/`)) as Record<string, unknown>;
ajv.addSchema({ $id: DOC_ID, $defs: rebase(doc.components.schemas, '') });

const validators = new Map<string, ValidateFunction>();

function validatorFor(key: string, schema: Record<string, unknown>): ValidateFunction {
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(rebase(schema, DOC_ID));
    validators.set(key, validate);
  }
  return validate;
}

const templates = Object.keys(doc.paths).map((template) => ({
  template,
  pattern: new RegExp(`^${template.replace(/[.+]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
  params: (template.match(/\{/g) ?? []).length,
}));

/** The operation a request reaches: a literal path wins over a template with parameters. */
export function operationOf(method: string, path: string): { template: string; operation: Operation } | undefined {
  const pathname = new URL(path, 'http://api.test').pathname;
  const match = templates.filter((t) => t.pattern.test(pathname)).sort((a, b) => a.params - b.params);
  for (const { template } of match) {
    const operation = doc.paths[template]![method.toLowerCase()];
    if (operation) return { template, operation };
  }
  return undefined;
}

/** What about this answer the document does not allow; empty when it complies. */
export function contractViolations(method: string, path: string, answer: { status: number; headers: Headers; body: unknown }): string[] {
  const type = (answer.headers.get('content-type') ?? '').split(';')[0]!.trim();
  const found = operationOf(method, path);
  if (!found) {
    // No operation: only the door's own refusals (unknown key, unknown route) may answer.
    const problem = validatorFor('Problem', { $ref: '#/components/schemas/Problem' });
    const violations: string[] = [];
    if (![401, 404, 429].includes(answer.status)) violations.push(`no operation ${method} ${path}, yet the status is ${answer.status}`);
    if (type !== 'application/problem+json' || !problem(answer.body)) violations.push('the answer to a path without an operation is not a problem');
    return violations;
  }
  const { template, operation } = found;
  const response = operation.responses[String(answer.status)];
  if (!response) return [`status ${answer.status} is not documented for ${method.toUpperCase()} ${template} (documented: ${Object.keys(operation.responses).join(', ')})`];
  const media = response.content?.[type];
  if (!media) return [`content type "${type}" is not documented for ${answer.status} of ${method.toUpperCase()} ${template}`];
  if (!media.schema) return [];
  const validate = validatorFor(`${method} ${template} ${answer.status} ${type}`, media.schema);
  const violations = validate(answer.body) ? [] : (validate.errors ?? []).map((e) => `body${e.instancePath} ${e.message ?? 'is invalid'}`);
  if (type === 'application/problem+json' && (answer.body as { status?: unknown } | undefined)?.status !== answer.status) {
    violations.push('the problem\'s status differs from the HTTP status');
  }
  return violations;
}

/** What about a webhook body (an event as sent) the document's `webhooks` section does not allow; empty when it complies. */
export function webhookViolations(body: { type?: unknown }): string[] {
  const hook = typeof body.type === 'string' ? doc.webhooks[body.type] : undefined;
  if (!hook) return [`no webhook "${String(body.type)}" in the document`];
  const validate = validatorFor(`webhook ${body.type as string}`, hook.post.requestBody.content['application/json']!.schema!);
  return validate(body) ? [] : (validate.errors ?? []).map((e) => `body${e.instancePath} ${e.message ?? 'is invalid'}`);
}
