import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { problemSchema } from '../shared/api/problem';
import { teamKeyListSchema } from '../shared/api/routes/keys';
import {
  type ApiRun,
  modelListSchema,
  runPageSchema,
  runSchema,
  webhookListSchema,
  webhookTestResultSchema,
} from '../shared/api/schemas';
import {
  type CreateTeamKey,
  type TeamKey,
  type TeamKeyWithSecret,
  teamKeySchema,
  teamKeyWithSecretSchema,
} from '../shared/auth/teamKeys';
import {
  type CreateWebhookSubscription,
  type WebhookSubscription,
  type WebhookSubscriptionWithSecret,
  webhookSubscriptionWithSecretSchema,
} from '../shared/webhooks/contracts';
import {
  azureIdentityTokens,
  DEFAULT_DEV_PRINCIPAL,
  devTokens,
  hasLocalDevIdentity,
  type TokenSource,
} from './credentials';
import { chooseLocalRuntime, LocalRuntimeChoiceError } from './localRuntimes';

export const DEFAULT_API_URL = 'http://127.0.0.1:7071';

export interface ApiConnection {
  baseUrl: string;
  /** A team key (tdk_…), sent as x-functions-key. */
  key?: string;
  /** A bearer token source (Entra ID via @azure/identity, or a local dev token). */
  token?: TokenSource;
  /** Where the credential came from, for messages (never the credential itself). */
  keySource:
    | '--key'
    | 'TUNEDROP_API_KEY'
    | 'TUNEDROP_API_TOKEN'
    | '--as'
    | 'TUNEDROP_AS'
    | 'azure identity'
    | 'local dev identity'
    | 'none';
}

/**
 * --api / TUNEDROP_API_URL / the local default. Credential, first found: a team key (--key,
 * TUNEDROP_API_KEY); a bearer token (TUNEDROP_API_TOKEN); a local dev token for a named principal
 * (--as, TUNEDROP_AS); an Entra token from @azure/identity for the API's audience (--audience,
 * TUNEDROP_API_AUDIENCE); against a local runtime started here, a dev token for platform-admin.
 */
export function resolveApiConnection(
  flags: { api?: string; key?: string; as?: string; audience?: string },
  env: Record<string, string | undefined>,
  cwd: string,
): ApiConnection {
  const raw = flags.api ?? env.TUNEDROP_API_URL ?? DEFAULT_API_URL;
  let baseUrl: string;
  try {
    const url = new URL(raw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    baseUrl = url.toString().replace(/\/+$/, '');
  } catch {
    throw new UsageError(`the API URL must be an http(s) URL like ${DEFAULT_API_URL}`);
  }
  if (flags.key) return { baseUrl, key: flags.key, keySource: '--key' };
  if (env.TUNEDROP_API_KEY) return { baseUrl, key: env.TUNEDROP_API_KEY, keySource: 'TUNEDROP_API_KEY' };
  const staticToken = env.TUNEDROP_API_TOKEN;
  if (staticToken) return { baseUrl, token: async () => staticToken, keySource: 'TUNEDROP_API_TOKEN' };
  if (flags.as) return { baseUrl, token: devTokens(cwd, flags.as), keySource: '--as' };
  if (env.TUNEDROP_AS) return { baseUrl, token: devTokens(cwd, env.TUNEDROP_AS), keySource: 'TUNEDROP_AS' };
  const audience = flags.audience ?? env.TUNEDROP_API_AUDIENCE;
  if (audience) return { baseUrl, token: azureIdentityTokens(audience), keySource: 'azure identity' };
  if (hasLocalDevIdentity(cwd)) {
    return { baseUrl, token: devTokens(cwd, DEFAULT_DEV_PRINCIPAL), keySource: 'local dev identity' };
  }
  return { baseUrl, keySource: 'none' };
}

/**
 * resolveApiConnection, with the base URL of a running local runtime when no URL was given:
 * the one --runtime / TUNEDROP_RUNTIME names (port, URL or data folder), else the only one running
 * in this checkout (several: a usage error naming them), else the default.
 */
export async function resolveApiConnectionWithLocal(
  flags: { api?: string; key?: string; as?: string; audience?: string; runtime?: string },
  env: Record<string, string | undefined>,
  cwd: string,
): Promise<ApiConnection> {
  if (flags.api === undefined && env.TUNEDROP_API_URL === undefined) {
    try {
      const local = await chooseLocalRuntime(cwd, flags.runtime ?? env.TUNEDROP_RUNTIME, env);
      if (local) return resolveApiConnection({ ...flags, api: local.baseUrl }, env, cwd);
    } catch (err) {
      if (err instanceof LocalRuntimeChoiceError) throw new UsageError(err.message);
      throw err;
    }
  } else if (flags.runtime !== undefined) {
    throw new UsageError('--runtime picks a local runtime; it cannot be combined with --api or TUNEDROP_API_URL');
  }
  return resolveApiConnection(flags, env, cwd);
}

/** Bad flags or arguments: exit code 2. */
export class UsageError extends Error {}

/** The API answered with an error: a problem document when it sent one. */
export class ApiProblemError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string | undefined,
    readonly code: string | undefined,
  ) {
    super(detail ? `${title}: ${detail}` : title);
  }
}

/** The API could not be reached or answered something that is not the API: exit code 2. */
export class ApiUnreachableError extends Error {}

export type Fetch = typeof fetch;

/** A small client for the tunedrop HTTP API; every response is parsed with the API's own schemas. */
export class TunedropApiClient {
  constructor(
    readonly connection: ApiConnection,
    private readonly fetchImpl: Fetch = fetch,
  ) {}

  async request(method: string, pathAndQuery: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (this.connection.key) headers['x-functions-key'] = this.connection.key;
    if (this.connection.token) {
      try {
        headers.authorization = `Bearer ${await this.connection.token()}`;
      } catch (err) {
        throw new ApiUnreachableError(
          `could not get a token (${this.connection.keySource}): ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.fetchImpl(new URL(pathAndQuery, `${this.connection.baseUrl}/`), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new ApiUnreachableError(
        `cannot reach the tunedrop API at ${this.connection.baseUrl} (${cause}); start it with \`npm start\` or pass --api`,
      );
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (response.ok) return { status: response.status, body: json };
    const problem = problemSchema.safeParse(json);
    if (problem.success) {
      throw new ApiProblemError(response.status, problem.data.title, problem.data.detail, problem.data.code);
    }
    if (response.status === 401) {
      throw new ApiProblemError(
        401,
        'Unauthorized',
        `the credential was missing or not accepted (from ${this.connection.keySource}); pass --key (team key), --as (local) or --audience (Entra ID)`,
        'unauthorized',
      );
    }
    throw new ApiProblemError(response.status, `HTTP ${response.status}`, undefined, undefined);
  }

  private async parsed<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<z.output<S>> {
    const response = await this.request(method, path, body);
    const result = schema.safeParse(response.body);
    if (!result.success) throw new ApiUnreachableError(`${method} ${path}: the answer is not the tunedrop API's`);
    return result.data;
  }

  /** Every run matching the filters, following nextLink (up to `limit`). */
  async listRuns(
    query: { team?: string; dataset?: string; status?: string; pageSize?: number },
    limit = 1000,
  ): Promise<ApiRun[]> {
    const search = new URLSearchParams();
    if (query.team) search.set('team', query.team);
    if (query.dataset) search.set('dataset', query.dataset);
    if (query.status) search.set('status', query.status);
    if (query.pageSize) search.set('pageSize', String(query.pageSize));
    let next: string | undefined = `/api/runs${search.size ? `?${search}` : ''}`;
    const runs: ApiRun[] = [];
    while (next && runs.length < limit) {
      const page: z.output<typeof runPageSchema> = await this.parsed(runPageSchema, 'GET', next);
      runs.push(...page.runs);
      next = page.nextLink;
    }
    return runs.slice(0, limit);
  }

  getRun(id: string): Promise<ApiRun> {
    return this.parsed(runSchema, 'GET', `/api/runs/${encodeURIComponent(id)}`);
  }

  cancelRun(id: string): Promise<ApiRun> {
    return this.parsed(runSchema, 'POST', `/api/runs/${encodeURIComponent(id)}/cancel`);
  }

  createWebhook(input: CreateWebhookSubscription): Promise<WebhookSubscriptionWithSecret> {
    return this.parsed(webhookSubscriptionWithSecretSchema, 'POST', '/api/webhooks', input);
  }

  rotateWebhookSecret(id: string): Promise<WebhookSubscriptionWithSecret> {
    return this.parsed(webhookSubscriptionWithSecretSchema, 'POST', `/api/webhooks/${encodeURIComponent(id)}/rotate`);
  }

  /** The catalog as the service has it (refreshed from the provider), with its source and age. */
  async listModels(): Promise<z.output<typeof modelListSchema>> {
    return this.parsed(modelListSchema, 'GET', '/api/models');
  }

  async listWebhooks(team?: string): Promise<WebhookSubscription[]> {
    const path = team ? `/api/webhooks?team=${encodeURIComponent(team)}` : '/api/webhooks';
    return (await this.parsed(webhookListSchema, 'GET', path)).webhooks;
  }

  async deleteWebhook(id: string): Promise<void> {
    await this.request('DELETE', `/api/webhooks/${encodeURIComponent(id)}`);
  }

  testWebhook(id: string): Promise<{ delivered: boolean; result: string }> {
    return this.parsed(webhookTestResultSchema, 'POST', `/api/webhooks/${encodeURIComponent(id)}/test`);
  }

  createKey(input: CreateTeamKey): Promise<TeamKeyWithSecret> {
    return this.parsed(teamKeyWithSecretSchema, 'POST', '/api/keys', input);
  }

  async listKeys(team?: string): Promise<TeamKey[]> {
    const path = team ? `/api/keys?team=${encodeURIComponent(team)}` : '/api/keys';
    return (await this.parsed(teamKeyListSchema, 'GET', path)).keys;
  }

  revokeKey(id: string): Promise<TeamKey> {
    return this.parsed(teamKeySchema, 'DELETE', `/api/keys/${encodeURIComponent(id)}`);
  }
}

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Record<string, string | undefined>;
  cwd: string;
  fetch?: Fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
}

export const processIo = (): CliIo => ({
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});

/** How a command reports a failure: problem → 1, usage or unreachable → 2. Never prints the key. */
export function reportError(command: string, err: unknown, io: CliIo, help?: string): number {
  if (err instanceof ApiProblemError) {
    io.stderr.write(`tunedrop ${command}: ${err.title}${err.detail ? ` — ${err.detail}` : ''}\n`);
    return 1;
  }
  if (err instanceof UsageError) {
    io.stderr.write(`tunedrop ${command}: ${err.message}\n${help ? `\n${help}` : ''}`);
    return 2;
  }
  if (err instanceof ApiUnreachableError) {
    io.stderr.write(`tunedrop ${command}: ${err.message}\n`);
    return 2;
  }
  throw err;
}

/** Fixed-width columns for terminal tables. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_c, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;
type OptionValues<O extends OptionSpec> = {
  [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string;
} & { api?: string; key?: string; as?: string; audience?: string; runtime?: string; help?: boolean };

/**
 * The frame of an API command (`runs`, `webhooks`): parse options (plus --api/--key/--help), print
 * help, build the client, dispatch the subcommand, and turn failures into exit codes.
 */
export async function runApiCommand<O extends OptionSpec>(
  command: string,
  args: string[],
  io: CliIo,
  spec: { help: string; options: O },
  dispatch: (sub: string, positionals: string[], values: OptionValues<O>, client: TunedropApiClient) => Promise<number>,
): Promise<number> {
  let values: OptionValues<O>;
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        ...spec.options,
        api: { type: 'string' },
        runtime: { type: 'string' },
        key: { type: 'string' },
        as: { type: 'string' },
        audience: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    values = parsed.values as OptionValues<O>;
    positionals = parsed.positionals;
  } catch (err) {
    io.stderr.write(`tunedrop ${command}: ${(err as Error).message}\n\n${spec.help}`);
    return 2;
  }
  const [sub, ...rest] = positionals;
  if (values.help || !sub) {
    io[values.help ? 'stdout' : 'stderr'].write(spec.help);
    return values.help ? 0 : 2;
  }
  try {
    const client = new TunedropApiClient(await resolveApiConnectionWithLocal(values, io.env, io.cwd), io.fetch);
    return await dispatch(sub, rest, values, client);
  } catch (err) {
    return reportError(command, err, io, spec.help);
  }
}
