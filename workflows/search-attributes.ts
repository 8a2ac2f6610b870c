// Custom search attributes ops filter on in the Temporal UI. Defined once; the workflow
// upserts them, tests query by them. Their names and types as plain data, which the config
// registers on the dev server, are in domain/search-attribute-types.ts.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const DunningStatus = defineSearchAttributeKey('DunningStatus', SearchAttributeType.KEYWORD);
export const DunningStep = defineSearchAttributeKey('DunningStep', SearchAttributeType.KEYWORD);
export const AccountId = defineSearchAttributeKey('AccountId', SearchAttributeType.KEYWORD);
export const OutstandingAmount = defineSearchAttributeKey('OutstandingAmount', SearchAttributeType.DOUBLE);
export const NextActionAt = defineSearchAttributeKey('NextActionAt', SearchAttributeType.DATETIME);
