import type { Action } from '../../auth/principal';
import type { IntakeResult } from '../../pipeline/intake';
import { MANIFEST_NAME } from '../../pipeline/submit';
import type { RunRecord } from '../../registry/runIndex';
import { TERMINAL_RUN_STATUSES } from '../../runStatus';
import type { AccessGrant, RouteAccess } from '../access';
import type { ApiDeps } from '../deps';
import { checkInboundSignature, INBOUND_SIGNATURE_HEADERS } from '../inboundSignature';
import { ProblemError } from '../problem';
import { type ApiResult, defineRoute } from '../route';
import {
  type ApiRun,
  createRunRequestSchema,
  listRunsQuerySchema,
  runAcceptedSchema,
  runIdParamsSchema,
  runPageSchema,
  runSchema,
} from '../schemas';

export const runPath = (runId: string) => `/api/runs/${runId}`;

export function toApiRun(run: RunRecord): ApiRun {
  return {
    ...run,
    links: {
      self: runPath(run.runId),
      cancel: `${runPath(run.runId)}/cancel`,
      ...(run.reportUrl ? { report: run.reportUrl } : {}),
    },
  };
}

const runNotFound = (runId: string) => new ProblemError('not_found', `There is no run ${runId}.`);

async function readRun(deps: ApiDeps, runId: string): Promise<RunRecord> {
  const run = await deps.runIndex.get(runId);
  if (!run) throw runNotFound(runId);
  return run;
}

/** A run route's access: the run's team decides; another team's run is as absent as a missing one. */
function runAccess(action: Action): RouteAccess<{ id: string }> {
  return {
    kind: 'resource',
    action,
    team: async ({ params, deps }) => (await deps.runIndex.get(params.id))?.team,
    notFound: (params) => runNotFound(params.id),
  };
}

/** A list's team filter from the access grant: undefined = every team (platform admin). */
export function scopeFilter(scope: AccessGrant['scope']): readonly string[] | undefined {
  return scope === 'all' ? undefined : scope;
}

export const createRunRoute = defineRoute({
  name: 'createRun',
  method: 'POST',
  route: 'runs',
  authLevel: 'anonymous',
  usesDurableClient: true,
  summary:
    'Start a run from a dataset folder already in storage, or from an inline manifest (written as its run.json first)',
  tags: ['runs'],
  body: createRunRequestSchema,
  access: { kind: 'team', action: 'start', team: ({ body }) => body.team },
  requestHeaders: Object.fromEntries(
    INBOUND_SIGNATURE_HEADERS.map((h) => [
      h,
      'Standard Webhooks header; required when an inbound secret is configured',
    ]),
  ),
  responses: {
    200: { description: 'This version of run.json was already handled: the existing run', schema: runSchema },
    202: {
      description:
        'The run was started (or is already running), or — for a drop with more data than is validated inside a request (256 MiB) — run.json was committed and intake continues in the background',
      schema: runAcceptedSchema,
      headers: {
        Location: 'The run (/api/runs/{runId}), or for `validating` the run list filtered by team and dataset',
      },
    },
  },
  problems: [401, 403, 404, 409, 422],
  // Before the body is parsed: an unsigned request learns nothing about the schema.
  async authenticate({ request, rawBody, deps }) {
    if (deps.inbound) await checkInboundSignature(deps.inbound, request.headers, rawBody, deps.now());
  },
  async handle({ body, deps }): Promise<ApiResult> {
    await deps.ready();
    const blobName = `${body.team}/${body.dataset}/${MANIFEST_NAME}`;
    const dataBytes = await dropDataBytes(deps, `${body.team}/${body.dataset}/`, blobName);
    if (dataBytes > deps.inlineValidationMaxBytes) return commitLargeDrop(deps, body, blobName, dataBytes);
    let content: Buffer;
    let etag: string;
    if (body.manifest) {
      content = manifestBytes(body.manifest);
      etag = await deps.drops.write(blobName, content, 'application/json');
    } else {
      const stored = await deps.drops.read(blobName);
      if (!stored) throw dropNotFound(blobName);
      ({ content, etag } = stored);
    }
    const result = await deps.handleDrop({ blobName, url: deps.drops.url(blobName), etag, content });
    return answerIntake(deps, result, body);
  },
});

async function dropDataBytes(deps: ApiDeps, prefix: string, manifestBlob: string): Promise<number> {
  let bytes = 0;
  for await (const f of deps.drops.list(prefix)) {
    if (f.name !== manifestBlob) bytes += f.size;
  }
  return bytes;
}

/**
 * A drop too large to validate inside the request: commit run.json (inline manifest) and answer
 * 202; the blob trigger validates it and starts the run, which then shows up in the run list for
 * the team and dataset (and in dataset.validated / dataset.rejected events). A run.json already
 * in storage was committed when it was uploaded: answer with its run if intake already handled it.
 */
async function commitLargeDrop(
  deps: ApiDeps,
  body: { team: string; dataset: string; manifest?: unknown },
  blobName: string,
  dataBytes: number,
): Promise<ApiResult> {
  if (body.manifest) {
    await deps.drops.write(blobName, manifestBytes(body.manifest), 'application/json');
  } else {
    const etag = await deps.drops.etagOf(blobName);
    if (etag === undefined) throw dropNotFound(blobName);
    const runId = (await deps.intakeLog.lookup(deps.drops.url(blobName), etag))?.runId;
    const run = runId ? await deps.runIndex.get(runId) : undefined;
    if (run) return { status: 200, headers: { Location: runPath(run.runId) }, body: runSchema.parse(toApiRun(run)) };
  }
  const runs = nextLinkFor('/api/runs', { team: body.team, dataset: body.dataset });
  return {
    status: 202,
    headers: { Location: runs },
    body: runAcceptedSchema.parse({ outcome: 'validating', dataBytes, links: { runs } }),
  };
}

function dropNotFound(blobName: string): ProblemError {
  return new ProblemError(
    'drop_not_found',
    `datasets/${blobName} does not exist: upload the data files and run.json first, or send the manifest inline.`,
  );
}

async function answerIntake(
  deps: ApiDeps,
  result: IntakeResult,
  drop: { team: string; dataset: string },
): Promise<ApiResult> {
  switch (result.outcome) {
    case 'started':
    case 'already-running': {
      const run = await deps.runIndex.get(result.runId);
      const body = runAcceptedSchema.parse({
        runId: result.runId,
        outcome: result.outcome,
        status: run?.status,
        links: run ? toApiRun(run).links : { self: runPath(result.runId), cancel: `${runPath(result.runId)}/cancel` },
      });
      return { status: 202, headers: { Location: runPath(result.runId) }, body };
    }
    case 'rejected': {
      const run = await deps.runIndex.get(result.runId);
      throw new ProblemError(
        'drop_rejected',
        `The drop was rejected: ${result.problems.map((p) => `${p.code} (${p.count})`).join(', ')}. See the report.`,
        { runId: result.runId, problems: result.problems, ...(run?.reportUrl ? { reportUrl: run.reportUrl } : {}) },
      );
    }
    case 'duplicate': {
      const run = result.runId ? await deps.runIndex.get(result.runId) : undefined;
      if (!run) throw new ProblemError('not_found', 'This run.json version was handled, but its run is not recorded.');
      return { status: 200, headers: { Location: runPath(run.runId) }, body: runSchema.parse(toApiRun(run)) };
    }
    case 'validating': {
      // Sharded validation runs in the background; the run appears in the list (validating, then submitted).
      const runs = nextLinkFor('/api/runs', { team: drop.team, dataset: drop.dataset });
      return {
        status: 202,
        headers: { Location: runs },
        body: runAcceptedSchema.parse({ outcome: 'validating', dataBytes: result.dataBytes, links: { runs } }),
      };
    }
    case 'ignored':
      throw new ProblemError('invalid_request', result.reason);
  }
}

/** An inline manifest as it is stored: pretty JSON with a final newline (the same bytes for the same manifest). */
function manifestBytes(manifest: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
}

export const getRunRoute = defineRoute({
  name: 'getRun',
  method: 'GET',
  route: 'runs/{id}',
  authLevel: 'anonymous',
  summary: 'A run: status, model, dataset, report and registration',
  tags: ['runs'],
  params: runIdParamsSchema,
  access: runAccess('read'),
  responses: { 200: { description: 'The run', schema: runSchema } },
  problems: [404],
  async handle({ params, deps }) {
    return { status: 200, body: runSchema.parse(toApiRun(await readRun(deps, params.id))) };
  },
});

export const listRunsRoute = defineRoute({
  name: 'listRuns',
  method: 'GET',
  route: 'runs',
  authLevel: 'anonymous',
  summary: 'Runs, filtered by team and status, paged (follow nextLink)',
  tags: ['runs'],
  query: listRunsQuerySchema,
  access: { kind: 'teams', action: 'read', team: ({ query }) => query.team },
  responses: { 200: { description: 'A page of runs', schema: runPageSchema } },
  async handle({ query, deps, access }) {
    await deps.ready();
    const page = await deps.runIndex.list({ ...query, teams: scopeFilter(access.scope) });
    const nextLink = page.continuationToken
      ? nextLinkFor('/api/runs', { ...query, continuationToken: page.continuationToken })
      : undefined;
    return { status: 200, body: runPageSchema.parse({ runs: page.runs.map(toApiRun), nextLink }) };
  },
});

/** A relative link to the next page: the same filters plus the continuation token. */
export function nextLinkFor(path: string, query: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) search.set(key, String(value));
  return `${path}?${search}`;
}

export const cancelRunRoute = defineRoute({
  name: 'cancelRun',
  method: 'POST',
  route: 'runs/{id}/cancel',
  authLevel: 'anonymous',
  usesDurableClient: true,
  summary: 'Ask a run to stop: the orchestration cancels it at the provider and announces run.cancelled',
  tags: ['runs'],
  params: runIdParamsSchema,
  access: runAccess('cancel'),
  responses: {
    202: {
      description: 'Cancellation requested; follow the run until it is cancelled',
      schema: runSchema,
      headers: { Location: 'The run' },
    },
  },
  problems: [403, 404, 409],
  async handle({ params, deps }) {
    const run = await readRun(deps, params.id);
    if (TERMINAL_RUN_STATUSES.includes(run.status)) {
      throw new ProblemError('run_not_cancellable', `The run already ended (${run.status}).`, {
        runStatus: run.status,
      });
    }
    const outcome = await deps.runs.cancel(run.runId);
    if (outcome === 'not_running') {
      throw new ProblemError('run_not_cancellable', `The run has no orchestration to cancel (status ${run.status}).`, {
        runStatus: run.status,
      });
    }
    // Its orchestration had ended: the run was ended here, so answer with how it ended.
    const current = outcome === 'repaired' ? await readRun(deps, run.runId) : run;
    return { status: 202, headers: { Location: runPath(run.runId) }, body: runSchema.parse(toApiRun(current)) };
  },
});

export const RUN_ROUTES = [createRunRoute, getRunRoute, listRunsRoute, cancelRunRoute] as const;
