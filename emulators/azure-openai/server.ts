import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { AZURE_OPENAI_FINE_TUNABLE, AZURE_OPENAI_LIMITS } from '../../shared/catalog';
import {
  AzureEmulatorState,
  type AzureEmulatorTimings,
  DEFAULT_AZURE_TIMINGS,
  type EmulatorFile,
  type EmulatorJob,
  fileStatus,
  viewJob,
} from './state';

export interface AzureOpenAIEmulatorOptions {
  /** Default: a free port on 127.0.0.1. */
  port?: number;
  /** The `api-key` clients send; default a random 32-hex string. */
  apiKey?: string;
  /** A bearer token accepted as an Entra ID token (data and control plane); default a random string. */
  bearerToken?: string;
  /** Virtual clock (ms since epoch); default Date.now. */
  now?: () => number;
  timings?: Partial<AzureEmulatorTimings>;
  /** The Azure OpenAI account name the control plane answers for; default `tunedrop-openai`. */
  account?: string;
}

export interface AzureOpenAIEmulator {
  /** The data-plane endpoint, e.g. `http://127.0.0.1:1234` (the SDK appends `/openai`). */
  url: string;
  /** The control-plane (ARM) endpoint; the same server. */
  managementUrl: string;
  apiKey: string;
  bearerToken: string;
  account: string;
  state: AzureEmulatorState;
  stop(): Promise<void>;
}

const hyperparameterValue = z.union([z.literal('auto'), z.number().positive()]);
const hyperparametersSchema = z
  .object({
    n_epochs: z.union([z.literal('auto'), z.number().int().min(1).max(50)]).optional(),
    batch_size: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).optional(),
    learning_rate_multiplier: hyperparameterValue.optional(),
  })
  .strict();

/** The create body, as the service documents it (unknown fields refused, to catch client mistakes). */
export const jobCreateSchema = z
  .object({
    model: z.string().min(1),
    training_file: z.string().min(1),
    validation_file: z.string().min(1).nullish(),
    suffix: z.string().regex(AZURE_OPENAI_LIMITS.suffixPattern, 'suffix: up to 40 of a-z, A-Z, 0-9, - and _').nullish(),
    seed: z.number().int().nonnegative().nullish(),
    hyperparameters: hyperparametersSchema.nullish(),
    method: z
      .object({
        type: z.literal('supervised'),
        supervised: z.object({ hyperparameters: hyperparametersSchema.optional() }).strict().optional(),
      })
      .strict()
      .nullish(),
    metadata: z
      .record(z.string().max(64), z.string().max(512))
      .refine((m) => Object.keys(m).length <= 16, 'at most 16 metadata keys')
      .nullish(),
    trainingType: z.enum(['standard', 'globalstandard', 'developer']).nullish(),
    integrations: z.array(z.unknown()).nullish(),
  })
  .strict();

const deploymentPutSchema = z.object({
  sku: z.object({ name: z.string().min(1), capacity: z.number().int().positive() }),
  properties: z
    .object({
      model: z.object({ format: z.literal('OpenAI'), name: z.string().min(1), version: z.string().min(1) }),
    })
    .passthrough(),
});

const ARM_DEPLOYMENT =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.CognitiveServices\/accounts\/([^/]+)\/deployments(?:\/([^/]+))?$/i;

/**
 * A stand-in for Azure OpenAI fine-tuning, wire-compatible with the official `openai` SDK
 * (`AzureOpenAI` with an api-version, or the v1 base URL): files, fine-tuning jobs, events,
 * checkpoints, models; plus a control-plane stand-in for ARM deployments
 * (`@azure/arm-cognitiveservices`). Errors use the service's `{ "error": { code, message } }` shape.
 */
export async function startAzureOpenAIEmulator(options: AzureOpenAIEmulatorOptions = {}): Promise<AzureOpenAIEmulator> {
  const apiKey = options.apiKey ?? randomBytes(16).toString('hex');
  const bearerToken = options.bearerToken ?? `eyJ0dW5lZHJvcCI6ImVtdWxhdG9yIn0.${randomBytes(12).toString('hex')}`;
  const account = options.account ?? 'tunedrop-openai';
  const state = new AzureEmulatorState(options.now ?? Date.now, { ...DEFAULT_AZURE_TIMINGS, ...options.timings });
  const sec = (ms: number) => Math.floor(ms / 1000);

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) error(res, 500, 'internal_error', e instanceof Error ? e.message : 'error');
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    if (url.pathname === '/__emulator/state' && method === 'GET') return json(res, 200, state.snapshot());
    const arm = ARM_DEPLOYMENT.exec(url.pathname);
    if (arm) return handleArm(req, res, url, arm);

    const authorized = req.headers['api-key'] === apiKey || req.headers.authorization === `Bearer ${bearerToken}`;
    if (!authorized) {
      await drain(req);
      return error(res, 401, '401', 'Access denied due to invalid subscription key or wrong API endpoint.');
    }
    let path: string;
    if (url.pathname.startsWith('/openai/v1/')) path = url.pathname.slice('/openai/v1'.length);
    else if (url.pathname.startsWith('/openai/') && url.searchParams.get('api-version')) {
      path = url.pathname.slice('/openai'.length);
    } else {
      await drain(req);
      return error(res, 404, '404', 'Resource not found');
    }
    const route = classify(method, path);
    if (!route) {
      await drain(req);
      return error(res, 404, '404', 'Resource not found');
    }
    state.requests.set(route.operation, state.count(route.operation) + 1);
    const fault = state.takeFault(route.operation);
    let dropAfterCreate = false;
    if (fault?.kind === 'status') {
      await drain(req);
      const headers: Record<string, string> = {};
      if (fault.retryAfterSec !== undefined) headers['retry-after'] = String(fault.retryAfterSec);
      return error(
        res,
        fault.status,
        fault.status === 429 ? '429' : 'InternalServerError',
        fault.status === 429
          ? 'Requests to the fine-tuning API have exceeded the rate limit. Retry later.'
          : `Injected HTTP ${fault.status}.`,
        headers,
      );
    }
    if (fault?.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, fault.ms));
    if (fault?.kind === 'dropAfterCreate') dropAfterCreate = true;

    const now = state.now();
    switch (route.operation) {
      case 'files.create': {
        const { body, chunks } = await readBody(req, (n) => state.uploadProgress.push(n));
        let form: FormData;
        try {
          form = await new Response(body, {
            headers: { 'content-type': req.headers['content-type'] ?? '' },
          }).formData();
        } catch {
          return error(res, 400, 'invalidPayload', 'The request body is not multipart/form-data.');
        }
        const purpose = form.get('purpose');
        const file = form.get('file');
        if (typeof purpose !== 'string' || !['fine-tune', 'assistants', 'batch'].includes(purpose)) {
          return error(res, 400, 'invalidPayload', 'purpose must be fine-tune, assistants or batch.');
        }
        if (!file || typeof file === 'string') return error(res, 400, 'invalidPayload', 'No file in the request.');
        const bytes = Buffer.from(await file.arrayBuffer());
        return json(res, 200, fileJson(state.addFile(file.name || 'upload.jsonl', purpose, bytes, chunks), now));
      }
      case 'files.list': {
        await drain(req);
        const purpose = url.searchParams.get('purpose');
        const files = [...state.files.values()]
          .filter((f) => !f.deleted && (!purpose || f.purpose === purpose))
          .sort((a, b) => b.createdAtMs - a.createdAtMs);
        return json(res, 200, { object: 'list', data: files.map((f) => fileJson(f, now)), has_more: false });
      }
      case 'files.retrieve': {
        await drain(req);
        const file = state.files.get(route.id ?? '');
        if (!file || file.deleted) return error(res, 404, 'fileNotFound', `File ${route.id} not found.`);
        return json(res, 200, fileJson(file, now));
      }
      case 'files.delete': {
        await drain(req);
        const file = state.files.get(route.id ?? '');
        if (!file || file.deleted) return error(res, 404, 'fileNotFound', `File ${route.id} not found.`);
        file.deleted = true;
        return json(res, 200, { id: file.id, object: 'file', deleted: true });
      }
      case 'jobs.create': {
        let raw: unknown;
        try {
          raw = JSON.parse((await readBody(req)).body.toString('utf8') || '{}');
        } catch {
          return error(res, 400, 'invalidPayload', 'The request body is not JSON.');
        }
        const parsed = jobCreateSchema.safeParse(raw);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          return error(
            res,
            400,
            'invalidPayload',
            `${issue?.path.join('.') || 'body'}: ${issue?.message}`,
            {},
            issue?.path.join('.'),
          );
        }
        const b = parsed.data;
        const base = b.model.split('.ft-')[0] ?? b.model;
        if (!AZURE_OPENAI_FINE_TUNABLE.some((m) => m.id === base)) {
          return error(
            res,
            400,
            'invalidPayload',
            'The specified base model does not support fine-tuning.',
            {},
            'model',
          );
        }
        for (const [param, id] of [
          ['training_file', b.training_file],
          ['validation_file', b.validation_file],
        ] as const) {
          if (!id) continue;
          const file = state.files.get(id);
          if (!file || file.deleted) return error(res, 400, 'invalidPayload', `File ${id} not found.`, {}, param);
          if (file.purpose !== 'fine-tune')
            return error(res, 400, 'invalidPayload', `File ${id} is not for fine-tune.`, {}, param);
          if (fileStatus(file, state.timings, now) === 'error') {
            return error(res, 400, 'invalidPayload', `File ${id} failed validation: ${file.rejection}`, {}, param);
          }
        }
        const hp = { ...b.hyperparameters, ...b.method?.supervised?.hyperparameters };
        const job = state.addJob({
          model: b.model,
          trainingFile: b.training_file,
          validationFile: b.validation_file ?? undefined,
          suffix: b.suffix ?? undefined,
          seed: b.seed ?? Number.parseInt(randomBytes(3).toString('hex'), 16),
          metadata: b.metadata ?? undefined,
          trainingType: b.trainingType ?? undefined,
          method: {
            type: 'supervised',
            hyperparameters: {
              n_epochs: typeof hp.n_epochs === 'number' ? hp.n_epochs : 3,
              batch_size: typeof hp.batch_size === 'number' ? hp.batch_size : 1,
              learning_rate_multiplier:
                typeof hp.learning_rate_multiplier === 'number' ? hp.learning_rate_multiplier : 1,
            },
          },
        });
        if (dropAfterCreate) {
          req.socket.destroy();
          return;
        }
        return json(res, 200, jobJson(job, now));
      }
      case 'jobs.list': {
        await drain(req);
        const filters = [...url.searchParams]
          .filter(([k]) => /^metadata\[.+\]$/.test(k))
          .map(([k, v]) => [k.slice(9, -1), v] as const);
        let jobs = [...state.jobs.values()]
          .filter((j) => filters.every(([k, v]) => j.metadata?.[k] === v))
          .sort((a, b) => b.createdAtMs - a.createdAtMs || (a.id < b.id ? 1 : -1));
        const after = url.searchParams.get('after');
        if (after) jobs = jobs.slice(jobs.findIndex((j) => j.id === after) + 1);
        const limit = Math.min(100, Number(url.searchParams.get('limit') ?? 20) || 20);
        return json(res, 200, {
          object: 'list',
          data: jobs.slice(0, limit).map((j) => jobJson(j, now)),
          has_more: jobs.length > limit,
        });
      }
      case 'jobs.retrieve': {
        await drain(req);
        const job = state.jobs.get(route.id ?? '');
        if (!job) return error(res, 404, 'jobNotFound', `Fine-tuning job ${route.id} not found.`);
        return json(res, 200, jobJson(job, now));
      }
      case 'jobs.cancel': {
        await drain(req);
        const job = state.jobs.get(route.id ?? '');
        if (!job) return error(res, 404, 'jobNotFound', `Fine-tuning job ${route.id} not found.`);
        const view = viewJob(job, state.files, state.timings, now);
        if (['succeeded', 'failed', 'cancelled', 'cancelling'].includes(view.status)) {
          return error(
            res,
            400,
            'invalidPayload',
            `Job ${job.id} is in status ${view.status} and cannot be cancelled.`,
          );
        }
        job.cancelRequestedAtMs = now;
        return json(res, 200, jobJson(job, now));
      }
      case 'jobs.events': {
        await drain(req);
        const job = state.jobs.get(route.id ?? '');
        if (!job) return error(res, 404, 'jobNotFound', `Fine-tuning job ${route.id} not found.`);
        const events = viewJob(job, state.files, state.timings, now)
          .events.map((e, i) => ({
            id: `ftevent-${job.id.slice(6, 22)}${String(i).padStart(4, '0')}`,
            object: 'fine_tuning.job.event',
            created_at: sec(e.atMs),
            level: e.level,
            message: e.message,
            type: e.type,
            ...(e.data ? { data: e.data } : {}),
          }))
          .reverse();
        return json(res, 200, page(events, url));
      }
      case 'jobs.checkpoints': {
        await drain(req);
        const job = state.jobs.get(route.id ?? '');
        if (!job) return error(res, 404, 'jobNotFound', `Fine-tuning job ${route.id} not found.`);
        const view = viewJob(job, state.files, state.timings, now);
        const checkpoints = view.checkpoints
          .map((c) => ({
            id: `ftchkpt-${job.id.slice(6, 26)}${String(c.step).padStart(6, '0')}`,
            object: 'fine_tuning.job.checkpoint',
            created_at: sec(c.atMs),
            fine_tuned_model_checkpoint: `${job.model}.ft-${job.id.slice(6)}${job.suffix ? `-${job.suffix}` : ''}:ckpt-step-${c.step}`,
            fine_tuning_job_id: job.id,
            metrics: {
              step: c.step,
              train_loss: 1.5 / (c.epoch + 1),
              train_mean_token_accuracy: 1 - 0.5 / (c.epoch + 1),
            },
            step_number: c.step,
          }))
          .reverse();
        return json(res, 200, page(checkpoints, url));
      }
      case 'models.list': {
        await drain(req);
        return json(res, 200, {
          object: 'list',
          data: AZURE_OPENAI_FINE_TUNABLE.map((m) => ({
            id: m.id,
            object: 'model',
            created_at: 1_700_000_000,
            capabilities: { fine_tune: true, inference: true, chat_completion: true },
            lifecycle_status: 'generally-available',
          })),
        });
      }
    }
    return error(res, 404, '404', 'Resource not found');
  }

  async function handleArm(req: IncomingMessage, res: ServerResponse, url: URL, match: RegExpExecArray): Promise<void> {
    if (req.headers.authorization !== `Bearer ${bearerToken}`) {
      await drain(req);
      return armError(res, 401, 'InvalidAuthenticationToken', 'The access token is invalid.');
    }
    if (!url.searchParams.get('api-version')) {
      await drain(req);
      return armError(
        res,
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required for all requests.',
      );
    }
    const [, sub, rg, acct, name] = match;
    if (acct?.toLowerCase() !== account.toLowerCase()) {
      await drain(req);
      return armError(
        res,
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.CognitiveServices/accounts/${acct}' was not found.`,
      );
    }
    const id = `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.CognitiveServices/accounts/${acct}/deployments`;
    const operation =
      req.method === 'PUT' ? 'deployments.put' : req.method === 'DELETE' ? 'deployments.delete' : 'deployments.get';
    state.requests.set(operation, state.count(operation) + 1);
    const fault = state.takeFault(operation);
    if (fault?.kind === 'status') {
      await drain(req);
      return armError(
        res,
        fault.status,
        fault.status === 429 ? 'TooManyRequests' : 'InternalServerError',
        'Injected failure.',
        fault.retryAfterSec,
      );
    }
    const view = (d: NonNullable<ReturnType<typeof state.deployments.get>>) => ({
      id: `${id}/${d.name}`,
      name: d.name,
      type: 'Microsoft.CognitiveServices/accounts/deployments',
      sku: d.sku,
      properties: {
        model: d.model,
        provisioningState: state.deploymentState(d),
        ...(d.fail && state.deploymentState(d) === 'Failed'
          ? { error: { code: 'DeploymentFailed', message: d.fail } }
          : {}),
      },
    });
    if (!name) {
      await drain(req);
      if (req.method !== 'GET') return armError(res, 405, 'MethodNotAllowed', 'Method not allowed.');
      return json(res, 200, { value: [...state.deployments.values()].map(view) });
    }
    const key = name.toLowerCase();
    if (req.method === 'GET') {
      await drain(req);
      const d = state.deployments.get(key);
      if (!d) return armError(res, 404, 'DeploymentNotFound', `Deployment ${name} not found.`);
      return json(res, 200, view(d));
    }
    if (req.method === 'DELETE') {
      await drain(req);
      return json(res, state.deployments.delete(key) ? 200 : 204, {});
    }
    if (req.method !== 'PUT') {
      await drain(req);
      return armError(res, 405, 'MethodNotAllowed', 'Method not allowed.');
    }
    let raw: unknown;
    try {
      raw = JSON.parse((await readBody(req)).body.toString('utf8'));
    } catch {
      return armError(
        res,
        400,
        'InvalidRequestContent',
        'The request content was invalid and could not be deserialized.',
      );
    }
    const parsed = deploymentPutSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return armError(res, 400, 'InvalidRequestContent', `${issue?.path.join('.')}: ${issue?.message}`);
    }
    const modelName = parsed.data.properties.model.name;
    if (!state.fineTunedModels().has(modelName) && !AZURE_OPENAI_FINE_TUNABLE.some((m) => m.id === modelName)) {
      return armError(
        res,
        400,
        'DeploymentModelNotSupported',
        `The model '${modelName}' is not available in account ${acct}.`,
      );
    }
    const existing = state.deployments.get(key);
    if (existing && existing.model.name === modelName) return json(res, 200, view(existing));
    const d = {
      key,
      name,
      account: acct,
      model: parsed.data.properties.model,
      sku: parsed.data.sku,
      createdAtMs: state.now(),
      fail: state.takeDeploymentFailure(),
    };
    state.deployments.set(key, d);
    return json(res, 201, view(d));
  }

  function fileJson(f: EmulatorFile, now: number) {
    const status = fileStatus(f, state.timings, now);
    return {
      id: f.id,
      object: 'file',
      bytes: f.bytes.length,
      created_at: sec(f.createdAtMs),
      filename: f.filename,
      purpose: f.purpose,
      status,
      status_details: status === 'error' ? f.rejection : null,
    };
  }

  function jobJson(job: EmulatorJob, now: number) {
    const v = viewJob(job, state.files, state.timings, now);
    const hyperparameters = job.method.hyperparameters;
    return {
      id: job.id,
      object: 'fine_tuning.job',
      created_at: sec(job.createdAtMs),
      error: v.error ? { code: v.error.code, message: v.error.message, param: null } : null,
      estimated_finish: v.estimatedFinishMs ? sec(v.estimatedFinishMs) : null,
      fine_tuned_model: v.fineTunedModel ?? null,
      finished_at: v.finishedAtMs ? sec(v.finishedAtMs) : null,
      hyperparameters,
      integrations: null,
      metadata: job.metadata ?? null,
      method: { type: 'supervised', supervised: { hyperparameters } },
      model: job.model,
      organization_id: 'org-tunedrop-emulator',
      result_files: [],
      seed: job.seed,
      status: v.status,
      suffix: job.suffix ?? null,
      trained_tokens: v.trainedTokens ?? null,
      training_file: job.trainingFile,
      validation_file: job.validationFile ?? null,
      ...(job.trainingType ? { trainingType: job.trainingType } : {}),
    };
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    managementUrl: url,
    apiKey,
    bearerToken,
    account,
    state,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function classify(method: string, path: string): { operation: string; id?: string } | undefined {
  if (path === '/files')
    return method === 'POST'
      ? { operation: 'files.create' }
      : method === 'GET'
        ? { operation: 'files.list' }
        : undefined;
  let m = /^\/files\/([^/]+)$/.exec(path);
  if (m)
    return method === 'GET'
      ? { operation: 'files.retrieve', id: m[1] }
      : method === 'DELETE'
        ? { operation: 'files.delete', id: m[1] }
        : undefined;
  if (path === '/fine_tuning/jobs')
    return method === 'POST' ? { operation: 'jobs.create' } : method === 'GET' ? { operation: 'jobs.list' } : undefined;
  m = /^\/fine_tuning\/jobs\/([^/]+)(\/cancel|\/events|\/checkpoints)?$/.exec(path);
  if (m) {
    const id = decodeURIComponent(m[1] ?? '');
    if (!m[2]) return method === 'GET' ? { operation: 'jobs.retrieve', id } : undefined;
    if (m[2] === '/cancel') return method === 'POST' ? { operation: 'jobs.cancel', id } : undefined;
    if (m[2] === '/events') return method === 'GET' ? { operation: 'jobs.events', id } : undefined;
    return method === 'GET' ? { operation: 'jobs.checkpoints', id } : undefined;
  }
  if (path === '/models' && method === 'GET') return { operation: 'models.list' };
  return undefined;
}

function page<T extends { id: string }>(items: T[], url: URL) {
  const after = url.searchParams.get('after');
  const rest = after ? items.slice(items.findIndex((i) => i.id === after) + 1) : items;
  const limit = Math.min(100, Number(url.searchParams.get('limit') ?? 20) || 20);
  const data = rest.slice(0, limit);
  return {
    object: 'list',
    data,
    has_more: rest.length > limit,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
  };
}

async function readBody(
  req: IncomingMessage,
  onChunk?: (bytesSoFar: number) => void,
): Promise<{ body: Buffer; chunks: number }> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of req) {
    parts.push(chunk as Buffer);
    n += (chunk as Buffer).length;
    onChunk?.(n);
  }
  return { body: Buffer.concat(parts), chunks: parts.length };
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req) {
    // discard
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function error(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
  param?: string,
): void {
  json(
    res,
    status,
    {
      error: {
        code,
        message,
        param: param ?? null,
        type: status === 429 ? 'rate_limit_error' : 'invalid_request_error',
      },
    },
    headers,
  );
}

function armError(res: ServerResponse, status: number, code: string, message: string, retryAfterSec?: number): void {
  json(
    res,
    status,
    { error: { code, message } },
    retryAfterSec !== undefined ? { 'retry-after': String(retryAfterSec) } : {},
  );
}
