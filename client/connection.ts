// A typed Temporal client for the configured cluster (the `npm start` dev server by default).
import { Client, Connection } from '@temporalio/client';
import { temporalAddress, type DunningConfig } from '../worker/config';

export interface DunningClient {
  client: Client;
  config: DunningConfig;
  close(): Promise<void>;
}

export async function connectClient(config: DunningConfig): Promise<DunningClient> {
  const address = temporalAddress(config);
  let connection: Connection;
  try {
    connection = await Connection.connect({
      address,
      tls: config.temporal.tls || undefined,
      apiKey: config.temporal.apiKey,
      connectTimeout: 3000,
    });
  } catch {
    throw new Error(
      `Cannot reach Temporal at ${address}; start the engine with \`npm start\` or set TEMPORAL_ADDRESS.`,
    );
  }
  return {
    client: new Client({ connection, namespace: config.temporal.namespace }),
    config,
    close: () => connection.close(),
  };
}
