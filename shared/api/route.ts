import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { z } from 'zod';
import type { Principal } from '../auth/principal';
import { WebhookError } from '../webhooks/errors';
import { type AccessGrant, authenticateRequest, enforceAccess, type RouteAccess } from './access';
import type { ApiDeps } from './deps';
import { issuesToErrors, PROBLEM_MEDIA_TYPE, ProblemError, problemBody } from './problem';

export type HttpMethod = 'GET' | 'POST' | 'DELETE';
export type RouteAuthLevel = 'anonymous' | 'function';

export interface RouteResponse {
  description: string;
  /** Absent for bodiless responses (204). */
  schema?: z.ZodType;
  /** Response headers worth documenting (e.g. Location). */
  headers?: Record<string, string>;
}

export interface ApiResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  request: HttpRequest;
  /** The raw body text (signature checks need the exact bytes that were signed). */
  rawBody: string;
  deps: ApiDeps;
  /** The caller and the teams this request may touch (checked by the route layer before handle). */
  access: AccessGrant;
}

/**
 * One HTTP endpoint: the same zod schemas parse its requests and describe it in the OpenAPI
 * document. `name` is the function name it is registered under; `route` is the Functions route
 * template without the `api/` prefix (`runs/{id}`).
 */
export interface RouteDefinition<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  name: string;
  method: HttpMethod;
  route: string;
  /**
   * The Functions host's key check. API routes are `anonymous` there: the app authenticates every
   * non-public request itself (Entra token, Easy Auth, team key) and enforces `access`.
   */
  authLevel: RouteAuthLevel;
  /** Who may call it; enforced here, in the route layer, for every route (shared/api/access.ts). */
  access: RouteAccess<z.output<P>, z.output<Q>, z.output<B>>;
  /** The handler starts or signals orchestrations: the function gets the durableClient input binding. */
  usesDurableClient?: boolean;
  summary: string;
  tags: string[];
  params?: P;
  query?: Q;
  body?: B;
  /** Documented request headers (name → description), e.g. the Standard Webhooks ones. */
  requestHeaders?: Record<string, string>;
  responses: Record<number, RouteResponse>;
  /** Runs on the raw request before the body is parsed (signature checks): throw a ProblemError to refuse. */
  authenticate?(input: { request: HttpRequest; rawBody: string; deps: ApiDeps }): Promise<void>;
  /** Problem statuses this route may answer with besides 400/500 (for the document). */
  problems?: number[];
  handle(input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>): Promise<ApiResult>;
}

export function defineRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  route: RouteDefinition<P, Q, B>,
): RouteDefinition<P, Q, B> {
  return route;
}

/** A route with its type parameters erased, for tables of routes. */
// biome-ignore lint/suspicious/noExplicitAny: the table holds routes of every shape; each is checked where it is defined.
export type AnyRoute = RouteDefinition<any, any, any>;

export type RouteHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/** Lines for the invocation log (auth decisions): never credentials. */
export type RouteLog = (message: string) => void;

export interface HandlerOptions {
  /** Where unexpected errors are logged (the invocation's log in Azure); never sent to the client. */
  log?: (message: string) => void;
}

/**
 * Turn a route into an @azure/functions handler: parse params, query and body with the route's
 * schemas, run it with the deps the factory builds for this invocation, and answer every failure
 * with problem+json.
 */
export function toHttpHandler(
  route: AnyRoute,
  depsFor: (request: HttpRequest, context: InvocationContext) => ApiDeps,
): RouteHandler {
  return async (request, context) => {
    const instance = safePath(request.url);
    try {
      const log: RouteLog = (message) => context.log(message);
      const result = await runRoute(route, request, () => depsFor(request, context), log);
      return toResponse(result);
    } catch (err) {
      if (err instanceof ProblemError) return problemResponse(err, instance);
      const known = knownProblem(err);
      if (known) return problemResponse(known, instance);
      const code = (err as { code?: unknown }).code;
      context.error?.(
        `${route.name}: unexpected ${(err as Error).name ?? 'error'}${typeof code === 'string' ? ` (${code})` : ''}: ${(err as Error).message}`,
      );
      return problemResponse(
        new ProblemError('internal_error', 'The request could not be completed; it was logged.'),
        instance,
      );
    }
  };
}

async function runRoute(
  route: AnyRoute,
  request: HttpRequest,
  depsFactory: () => ApiDeps,
  log: RouteLog,
): Promise<ApiResult> {
  let built: ApiDeps | undefined;
  // Built on first use: health and the OpenAPI document answer even when storage settings are broken.
  const deps = () => {
    built ??= depsFactory();
    return built;
  };
  // Who is calling comes first: an unauthenticated request learns nothing about the schema.
  let principal: Principal | undefined;
  if (route.access.kind !== 'public') {
    principal = await authenticateRequest(deps(), { headers: request.headers, url: request.url }, route.name, log);
  }
  const rawBody = route.body || route.authenticate ? await request.text() : '';
  if (route.authenticate) await route.authenticate({ request, rawBody, deps: deps() });
  const params = parsePart(route.params, { ...request.params }, 'params', 400);
  const query = parsePart(route.query, Object.fromEntries(request.query.entries()), 'query', 400);
  let body: unknown;
  if (route.body) {
    let json: unknown;
    try {
      json = rawBody.trim() === '' ? undefined : JSON.parse(rawBody);
    } catch {
      throw new ProblemError('invalid_json', 'The body must be a JSON document.');
    }
    if (json === undefined) throw new ProblemError('invalid_json', 'The body is empty; a JSON document is required.');
    body = parsePart(route.body, json, 'body', 422);
  }
  const access: AccessGrant =
    route.access.kind === 'public' || !principal
      ? { scope: [] }
      : await enforceAccess(route.access, principal, { params, query, body, deps: deps() }, route.name, log);
  return route.handle({
    access,
    params,
    query,
    body,
    request,
    rawBody,
    get deps() {
      return deps();
    },
  });
}

function parsePart(schema: z.ZodType | undefined, value: unknown, where: string, status: number): unknown {
  if (!schema) return undefined;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ProblemError(
    'invalid_request',
    `The request ${where} does not match the schema.`,
    { errors: issuesToErrors(parsed.error.issues, where) },
    status,
  );
}

/** Coded errors of the collaborators that are the caller's doing, as problems; anything else is a 500. */
export function knownProblem(err: unknown): ProblemError | undefined {
  if (!(err instanceof WebhookError)) return undefined;
  const detail = err.message.replace(/^[a-z_]+: /, '');
  switch (err.code) {
    case 'invalid_target_url':
      return new ProblemError('invalid_target_url', detail, err.reason ? { reason: err.reason } : {});
    case 'invalid_subscription':
      return new ProblemError('invalid_request', detail, {}, 422);
    case 'subscription_not_found':
    case 'delivery_not_found':
      return new ProblemError('not_found', detail);
    case 'delivery_not_failed':
      return new ProblemError('delivery_not_failed', detail);
    default:
      return undefined;
  }
}

export function toResponse(result: ApiResult): HttpResponseInit {
  if (result.body === undefined) return { status: result.status, headers: result.headers };
  return {
    status: result.status,
    headers: { 'content-type': 'application/json', ...result.headers },
    body: JSON.stringify(result.body),
  };
}

export function problemResponse(error: ProblemError, instance?: string): HttpResponseInit {
  return {
    status: error.status,
    headers: {
      'content-type': PROBLEM_MEDIA_TYPE,
      ...(error.code === 'unauthenticated' ? { 'www-authenticate': 'Bearer realm="tunedrop"' } : {}),
    },
    body: JSON.stringify(problemBody(error, instance)),
  };
}

/** The request path only: the query may carry the function key (`code=`). */
function safePath(url: string): string | undefined {
  try {
    return new URL(url).pathname;
  } catch {
    return undefined;
  }
}
