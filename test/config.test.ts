import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, projectRoot } from '../worker/config';

function withConfigFile(content: unknown): NodeJS.ProcessEnv {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dunning-config-'));
  const file = path.join(dir, 'temporal.config.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return { DUNNING_CONFIG: file };
}

describe('configuration', () => {
  it('runs on its embedded defaults with no environment', () => {
    const config = loadConfig({});
    expect(config.temporal.address).toBeUndefined();
    expect(config.postgres.url).toBeUndefined();
    expect(config.dataDir).toBe(path.join(projectRoot, '.data'));
    expect(config.devServer).toEqual({ ip: '127.0.0.1', port: 7233, uiPort: 8233 });
    expect(config.temporal.taskQueues.dunning).toBe('dunning');
    expect(config.temporal.maxCachedWorkflows).toBe(1000); // memory stays bounded however many plans are open
    expect(config.temporal.pollers).toBe('default'); // the SDK's pollers: autoscaling measured better only on a cluster
    expect(config.searchAttributes).toMatchObject({
      DunningStatus: 'Keyword',
      DunningStep: 'Keyword',
      AccountId: 'Keyword',
      OutstandingAmount: 'Double',
      NextActionAt: 'Datetime',
    });
  });

  it('takes the cluster, database and data dir from the environment', () => {
    const config = loadConfig({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_NAMESPACE: 'billing',
      DATABASE_URL: 'postgres://u:p@db:5432/dunning',
      DUNNING_DATA_DIR: '/var/lib/dunning',
      TEMPORAL_API_KEY: 'secret',
    });
    expect(config.temporal.address).toBe('temporal.internal:7233');
    expect(config.temporal.namespace).toBe('billing');
    expect(config.temporal.tls).toBe(true); // an API key implies TLS
    expect(config.postgres.url).toBe('postgres://u:p@db:5432/dunning');
    expect(config.dataDir).toBe('/var/lib/dunning');
  });

  it.each([
    [{ DATABASE_URL: 'mysql://x' }, /^Invalid environment variable DATABASE_URL: must be a postgres:\/\/ URL\.$/],
    [{ TEMPORAL_ADDRESS: 'no-port' }, /^Invalid environment variable TEMPORAL_ADDRESS: must be host:port\.$/],
    [{ TEMPORAL_TLS_CERT_PATH: '/x.pem' }, /TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH must be set together/],
    [withConfigFile({ devServer: { port: 'seven' } }), /field "devServer\.port"/],
    [withConfigFile({ devServer: { port: 70000 } }), /field "devServer\.port"/],
    [withConfigFile({ temporal: { nameSpace: 'x' } }), /field "temporal"/],
    [withConfigFile({ temporal: { maxCachedWorkflows: 0 } }), /field "temporal\.maxCachedWorkflows": Too small/],
    [withConfigFile({ temporal: { pollers: 'many' } }), /field "temporal\.pollers"/],
    [withConfigFile({ searchAttributes: { DunningStatus: 'Int' } }), /field "searchAttributes\.DunningStatus": the workflow writes it as Keyword/],
    [withConfigFile('{ not json'), /is not valid JSON/],
    [{ DUNNING_CONFIG: '/nonexistent/dunning.json' }, /does not exist/],
  ])('refuses bad input with one sentence naming the field (%#)', (env, message) => {
    let error: unknown;
    try {
      loadConfig(env as NodeJS.ProcessEnv);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message.split('\n')).toHaveLength(1);
  });
});
