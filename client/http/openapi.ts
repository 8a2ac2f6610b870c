// `npm run openapi`: writes the OpenAPI document the API serves to client/http/openapi.json,
// committed so changes to the contract show in review (a test fails when it is stale).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const openApiPath = fileURLToPath(new URL('./openapi.json', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { createApi, openApiDocument } = await import('./app');
  // The document depends on the routes only; no connection is made.
  const app = createApi({ ctx: {} as never });
  writeFileSync(openApiPath, JSON.stringify(openApiDocument(app), null, 2) + '\n');
  console.log(`Wrote ${openApiPath}`);
}
