// Custom search attributes ops filter on in the Temporal UI. Defined once; the workflow
// upserts them, the config registers them on the dev server, tests query by them.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const DunningStatus = defineSearchAttributeKey('DunningStatus', SearchAttributeType.KEYWORD);
export const DunningStep = defineSearchAttributeKey('DunningStep', SearchAttributeType.KEYWORD);
export const AccountId = defineSearchAttributeKey('AccountId', SearchAttributeType.KEYWORD);
export const OutstandingAmount = defineSearchAttributeKey('OutstandingAmount', SearchAttributeType.DOUBLE);
export const NextActionAt = defineSearchAttributeKey('NextActionAt', SearchAttributeType.DATETIME);

/** The names and CLI type words (`--search-attribute Name=Type`) of the attributes above. */
export const searchAttributeTypes = {
  DunningStatus: 'Keyword',
  DunningStep: 'Keyword',
  AccountId: 'Keyword',
  OutstandingAmount: 'Double',
  NextActionAt: 'Datetime',
} as const;
