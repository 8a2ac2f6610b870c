// Registers our custom search attributes on a cluster that lacks them (the dev server gets
// them by flag; the time-skipping server and self-hosted clusters need this call).
import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { DunningConfig } from './config';

const { temporal } = proto; // CommonJS package: named imports fail under Node's ESM loader
const IndexedValueType = temporal.api.enums.v1.IndexedValueType;

const typeByName: Record<string, (typeof IndexedValueType)[keyof typeof IndexedValueType]> = {
  Text: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Int: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  Double: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  Bool: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  Datetime: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KeywordList: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

export async function registerSearchAttributes(
  connection: Connection,
  config: Pick<DunningConfig, 'searchAttributes' | 'temporal'>,
  log: (line: string) => void = () => {},
): Promise<void> {
  const namespace = config.temporal.namespace;
  let registered: Record<string, unknown> = {};
  try {
    registered = (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
  } catch {
    // The time-skipping test server implements add but not list: add them all.
  }
  const missing = Object.entries(config.searchAttributes).filter(([name]) => !(name in registered));
  if (missing.length === 0) return;
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, typeByName[type]!])),
    });
  } catch (err) {
    // Temporal Cloud manages attributes in its own console; say what to add instead of failing.
    log(`Could not register search attributes ${missing.map(([n, t]) => `${n}=${t}`).join(', ')}: ${String(err)}`);
  }
}
