// Configuration, parsed once at start: temporal.config.json (or DUNNING_CONFIG) plus the
// environment. Everything downstream receives the parsed object; nothing else reads env.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { WEBHOOK_KEY_BYTES } from '../db/webhook-secrets';
import { PAY_LINK_KEY_BYTES, payLinkPlaceholders, unknownPlaceholders } from '../templates/pay-link';
import { durationMs, parseDuration } from '../workflows/domain/duration';
import { searchAttributeTypes } from '../workflows/domain/search-attribute-types';

export const projectRoot = fileURLToPath(new URL('..', import.meta.url));

const port = z.number().int().min(1).max(65535);
const searchAttributeType = z.enum(['Text', 'Keyword', 'Int', 'Double', 'Bool', 'Datetime', 'KeywordList']);

const fileSchema = z
  .object({
    $comment: z.string().optional(),
    temporal: z
      .object({
        address: z.string().min(1).optional(),
        namespace: z.string().min(1).default('default'),
        taskQueues: z
          .object({ dunning: z.string().min(1).default('dunning'), mail: z.string().min(1).default('dunning-mail') })
          .strict()
          .prefault({}),
        tls: z.boolean().default(false),
        /** Where a browser finds the cluster's Web UI (the console links each plan's workflow there); the embedded dev server's when unset. */
        uiUrl: z.url({ protocol: /^https?$/ }).optional(),
        /**
         * Plans a worker keeps in memory between their steps; others are replayed from history
         * when their next step comes. Bounds the worker's memory however many plans are open.
         */
        maxCachedWorkflows: z.number().int().min(2).max(100_000).default(1000),
        /**
         * How a worker polls its task queues: the SDK's fixed pollers, or Temporal's poller
         * autoscaling (servers 1.28 and later), which opens more polls while tasks wait.
         */
        pollers: z.enum(['default', 'autoscaling']).default('default'),
      })
      .strict()
      .prefault({}),
    devServer: z
      .object({
        ip: z.string().min(1).default('127.0.0.1'),
        port: port.default(7233),
        uiPort: port.default(8233),
      })
      .strict()
      .prefault({}),
    postgres: z
      .object({
        port: port.default(5433),
        database: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case SQL identifier').default('dunning'),
      })
      .strict()
      .prefault({}),
    mail: z
      .object({
        from: z.string().min(3).default('Accounts Receivable <billing@dunning.local>'),
        /** Where a contact stops dunning email; {contactId} is filled in. mailto: or https:. */
        optOutUrl: z
          .string()
          .regex(/^(mailto:|https?:\/\/)/, 'must start with mailto:, https:// or http://')
          .default('mailto:billing@dunning.local?subject=opt-out%20{contactId}'),
        /**
         * Requests per second to the mail provider, across every worker process (Resend's
         * default limit is 2 per team); each request carries up to batchSize messages.
         */
        ratePerSecond: z.number().positive().max(1000).default(2),
        /** Messages per provider request (Resend's batch endpoint takes 100); 1 sends each alone. */
        batchSize: z.number().int().min(1).max(100).default(100),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(8080),
        /** Requests per second each API key may make (a token bucket per key and process). */
        rateLimitPerSecond: z.number().positive().max(100_000).default(100),
        /** Requests a key may make at once above its rate before it is refused. */
        rateLimitBurst: z.number().int().min(1).max(100_000).default(200),
      })
      .strict()
      .prefault({}),
    /** Where each worker process serves its Prometheus metrics (the SDK's and the engine's dunning_… ones). */
    metrics: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(9464),
      })
      .strict()
      .prefault({}),
    searchAttributes: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/), searchAttributeType).default({}),
    webhooks: z
      .object({
        /** Let endpoints on private, link-local and CGNAT addresses through (a receiver inside your own network). */
        allowPrivateNetworks: z.boolean().default(false),
        /** How long plan events and delivery attempts are kept; `redeliver` reaches back this far. */
        retentionDays: z.number().int().min(1).max(3650).default(30),
      })
      .strict()
      .prefault({}),
    payLink: z
      .object({
        /** The pay page every dunning email links to as a button; none → no button. */
        urlTemplate: z
          .string()
          .regex(/^https?:\/\/[^\s]+$/, 'must be an https:// or http:// URL without spaces')
          .refine((t) => unknownPlaceholders(t).length === 0, `may hold only the placeholders ${payLinkPlaceholders.map((p) => `{${p}}`).join(' ')}`)
          .optional(),
        ttl: z
          .string()
          .refine((t) => (parseDuration(t)?.sign ?? -1) === 1 && durationMs(t) >= 60_000, 'must be an ISO-8601 duration of at least a minute, like P30D')
          .default('P30D'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

const envSchema = z.object({
  TEMPORAL_ADDRESS: z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port').optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).optional(),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS_CERT_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().min(1).optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  RESEND_API_KEY: z.string().min(1).optional(),
  RESEND_BASE_URL: z.string().url().optional(),
  DUNNING_DATA_DIR: z.string().min(1).optional(),
  DUNNING_CONFIG: z.string().min(1).optional(),
  TEMPORAL_UI_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Several workers on one host each need a metrics port of their own. */
  DUNNING_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** Seals webhook signing secrets in the database; every process that adds or delivers webhooks needs the same one. */
  DUNNING_WEBHOOK_KEY: base64Key(WEBHOOK_KEY_BYTES),
  /** Signs pay link tokens; the workers that send email and the processes that verify tokens need the same one. */
  DUNNING_PAY_LINK_KEY: base64Key(PAY_LINK_KEY_BYTES),
});

/** The key's bytes when the text is exactly `bytes` bytes of standard base64, else undefined. */
function keyOf(text: string, bytes: number): Buffer | undefined {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) return undefined;
  const key = Buffer.from(trimmed, 'base64');
  return key.length === bytes ? key : undefined;
}

function base64Key(bytes: number) {
  return z
    .string()
    .refine((v) => keyOf(v, bytes) !== undefined, `must be ${bytes} bytes in base64 (openssl rand -base64 ${bytes})`)
    .optional();
}

/** A key the engine keeps: from its environment variable, else a file of that name in the data dir. */
interface EngineKey {
  /** What it is, in the refusal's words ("webhook key"). */
  label: string;
  env: 'DUNNING_WEBHOOK_KEY' | 'DUNNING_PAY_LINK_KEY';
  file: string;
  bytes: number;
}

const webhookKey: EngineKey = { label: 'webhook key', env: 'DUNNING_WEBHOOK_KEY', file: 'webhook.key', bytes: WEBHOOK_KEY_BYTES };
const payLinkKey: EngineKey = { label: 'pay link key', env: 'DUNNING_PAY_LINK_KEY', file: 'pay-link.key', bytes: PAY_LINK_KEY_BYTES };

/**
 * The key's file in the data dir, made once (0600) when there is none, so the embedded defaults
 * need no setup. Two processes starting at once agree: only one file is created (`wx`), and
 * the other reads it.
 */
function dataDirKey(dataDir: string, spec: EngineKey): Buffer {
  const file = path.join(dataDir, spec.file);
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    try {
      writeFileSync(file, `${randomBytes(spec.bytes).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const key = keyOf(readFileSync(file, 'utf8'), spec.bytes);
  if (!key) throw new ConfigError(`The ${spec.label} file ${file} is not ${spec.bytes} bytes in base64; restore it or set ${spec.env}.`);
  return key;
}

/**
 * The key from the environment, else from the data dir, read (and made, the first time) only
 * when a process asks for it: every command loads the config, and one against an external
 * database may have no data dir at all.
 */
function lazyKey(e: Partial<Record<EngineKey['env'], string>>, dataDir: string, spec: EngineKey): () => Buffer {
  const given = e[spec.env];
  const envKey = given === undefined ? undefined : keyOf(given, spec.bytes);
  let fileKey: Buffer | undefined;
  return () => envKey ?? (fileKey ??= dataDirKey(dataDir, spec));
}

export interface TemporalTls {
  clientCertPair?: { crt: Buffer; key: Buffer };
}

export interface DunningConfig {
  /** Where the embedded defaults keep their state (SQLite, PostgreSQL, outbox). Absolute. */
  dataDir: string;
  configFile: string;
  temporal: {
    /** Set → use that cluster; unset → run the embedded dev server. */
    address?: string;
    namespace: string;
    taskQueues: { dunning: string; mail: string };
    tls: boolean | TemporalTls;
    apiKey?: string;
    maxCachedWorkflows: number;
    pollers: 'default' | 'autoscaling';
    uiUrl?: string;
  };
  devServer: { ip: string; port: number; uiPort: number };
  postgres: { url?: string; port: number; database: string };
  mail: { resendApiKey?: string; resendBaseUrl?: string; from: string; optOutUrl: string; ratePerSecond: number; batchSize: number };
  http: { host: string; port: number; rateLimitPerSecond: number; rateLimitBurst: number };
  /** The worker's Prometheus endpoint: http://host:port/metrics. */
  metrics: { host: string; port: number };
  searchAttributes: Record<string, z.infer<typeof searchAttributeType>>;
  webhooks: {
    /** AES-256 key sealing webhook secrets: DUNNING_WEBHOOK_KEY, else the data dir's webhook.key. */
    secretKey: Buffer;
    /** Whether endpoints may resolve to private, link-local or CGNAT addresses. */
    allowPrivateNetworks: boolean;
    /** Days plan events and delivery attempts are kept (the hourly retention schedule prunes older ones). */
    retentionDays: number;
  };
  payLink: {
    /** The billing system's pay page with {planId} {amountMinor} {currency} (and {token}); unset → no pay button. */
    urlTemplate?: string;
    /** How long a link works after its email was sent: an ISO-8601 duration. */
    ttl: string;
    /** HMAC-SHA256 key signing the tokens: DUNNING_PAY_LINK_KEY, else the data dir's pay-link.key. */
    signingKey: Buffer;
  };
}

/** The worker options `temporal.pollers` stands for: none for the SDK's fixed pollers, else poller autoscaling for workflow and activity tasks alike. */
export const pollerOptions = (pollers: DunningConfig['temporal']['pollers']) =>
  pollers === 'autoscaling'
    ? { workflowTaskPollerBehavior: { type: 'autoscaling' } as const, activityTaskPollerBehavior: { type: 'autoscaling' } as const }
    : {};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A process cannot start (a port in use, a service unreachable): one sentence for its user. */
export class StartupError extends Error {
  override name = 'StartupError';
}

function describeIssue(issue: z.core.$ZodIssue, where: string): string {
  const field = issue.path.map(String).join('.');
  return `${where}${field ? ` field "${field}"` : ''}: ${issue.message}.`;
}

/** Reads and validates configuration; throws ConfigError with one sentence naming the field. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): DunningConfig {
  const envParsed = envSchema.safeParse(env);
  if (!envParsed.success) {
    const issue = envParsed.error.issues[0]!;
    throw new ConfigError(`Invalid environment variable ${String(issue.path[0])}: ${issue.message}.`);
  }
  const e = envParsed.data;

  const configFile = path.resolve(e.DUNNING_CONFIG ?? path.join(projectRoot, 'temporal.config.json'));
  let raw: unknown = {};
  if (existsSync(configFile)) {
    try {
      raw = JSON.parse(readFileSync(configFile, 'utf8'));
    } catch (err) {
      throw new ConfigError(`Config file ${configFile} is not valid JSON: ${(err as Error).message}.`);
    }
  } else if (e.DUNNING_CONFIG) {
    throw new ConfigError(`Config file ${configFile} (from DUNNING_CONFIG) does not exist.`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(describeIssue(parsed.error.issues[0]!, `Invalid config ${path.basename(configFile)}`));
  }
  const file = parsed.data;

  // The workflow writes these attributes with fixed types; a cluster registered differently
  // would reject every upsert, so refuse to start instead.
  const searchAttributes: Record<string, z.infer<typeof searchAttributeType>> = { ...searchAttributeTypes, ...file.searchAttributes };
  for (const [name, type] of Object.entries(searchAttributeTypes)) {
    if (searchAttributes[name] !== type) {
      throw new ConfigError(
        `Invalid config ${path.basename(configFile)} field "searchAttributes.${name}": the workflow writes it as ${type}.`,
      );
    }
  }

  if (Boolean(e.TEMPORAL_TLS_CERT_PATH) !== Boolean(e.TEMPORAL_TLS_KEY_PATH)) {
    throw new ConfigError('Invalid environment: TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH must be set together.');
  }
  let tls: boolean | TemporalTls = file.temporal.tls || Boolean(e.TEMPORAL_API_KEY);
  if (e.TEMPORAL_TLS_CERT_PATH && e.TEMPORAL_TLS_KEY_PATH) {
    tls = {
      clientCertPair: { crt: readFileSync(e.TEMPORAL_TLS_CERT_PATH), key: readFileSync(e.TEMPORAL_TLS_KEY_PATH) },
    };
  }

  const dataDir = path.resolve(e.DUNNING_DATA_DIR ?? path.join(projectRoot, '.data'));
  const webhookSecretKey = lazyKey(e, dataDir, webhookKey);
  const payLinkSigningKey = lazyKey(e, dataDir, payLinkKey);

  return {
    dataDir,
    configFile,
    temporal: {
      address: e.TEMPORAL_ADDRESS ?? file.temporal.address,
      namespace: e.TEMPORAL_NAMESPACE ?? file.temporal.namespace,
      taskQueues: file.temporal.taskQueues,
      tls,
      apiKey: e.TEMPORAL_API_KEY,
      maxCachedWorkflows: file.temporal.maxCachedWorkflows,
      pollers: file.temporal.pollers,
      uiUrl: e.TEMPORAL_UI_URL ?? file.temporal.uiUrl,
    },
    devServer: file.devServer,
    postgres: { url: e.DATABASE_URL, port: file.postgres.port, database: file.postgres.database },
    mail: { resendApiKey: e.RESEND_API_KEY, resendBaseUrl: e.RESEND_BASE_URL, ...file.mail },
    http: file.http,
    metrics: { host: file.metrics.host, port: e.DUNNING_METRICS_PORT ?? file.metrics.port },
    searchAttributes,
    webhooks: {
      get secretKey() {
        return webhookSecretKey();
      },
      allowPrivateNetworks: file.webhooks.allowPrivateNetworks,
      retentionDays: file.webhooks.retentionDays,
    },
    payLink: {
      urlTemplate: file.payLink.urlTemplate,
      ttl: file.payLink.ttl,
      get signingKey() {
        return payLinkSigningKey();
      },
    },
  };
}

/**
 * Emails per second the provider takes at most: requests per second times the messages each
 * carries (both built-in mailers batch). What a queue of emails drains at.
 */
export function mailEmailsPerSecond(mail: Pick<DunningConfig['mail'], 'ratePerSecond' | 'batchSize'>): number {
  return mail.ratePerSecond * mail.batchSize;
}

/** Where a browser finds the embedded dev server's Web UI. */
export function devServerUiUrl(devServer: { ip: string; uiPort: number }): string {
  return `http://${devServer.ip === '0.0.0.0' ? 'localhost' : devServer.ip}:${devServer.uiPort}`;
}

/**
 * A workflow's page in the Temporal Web UI: the configured UI, or the embedded dev server's when
 * this process runs against it; undefined for an external cluster whose UI nobody configured.
 */
export function workflowUiUrl(config: DunningConfig, workflowId: string): string | undefined {
  const base = config.temporal.uiUrl ?? (config.temporal.address ? undefined : devServerUiUrl(config.devServer));
  if (!base) return undefined;
  return `${base.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** The address clients and workers dial: the external cluster, or the embedded dev server. */
export function temporalAddress(config: DunningConfig): string {
  return config.temporal.address ?? `${config.devServer.ip}:${config.devServer.port}`;
}
