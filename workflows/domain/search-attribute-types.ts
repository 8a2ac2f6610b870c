// The custom search attributes' names and types, as `temporal server start-dev
// --search-attribute Name=Type` takes them. Plain data, so the config, which every command
// loads, checks them without loading the Temporal SDK; ../search-attributes.ts defines the
// typed keys the workflow upserts.

export const searchAttributeTypes = {
  DunningStatus: 'Keyword',
  DunningStep: 'Keyword',
  AccountId: 'Keyword',
  OutstandingAmount: 'Double',
  NextActionAt: 'Datetime',
} as const;
