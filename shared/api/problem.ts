import { z } from 'zod';

/**
 * RFC 9457 problem details. Every error the API returns is one of these codes; the `type` URI is
 * `https://tunedrop.dev/problems/<code>`. Details describe what was wrong, never echo input values
 * (a body may carry secrets), and never carry internals (stack traces, storage errors).
 */
export const PROBLEM_MEDIA_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_BASE = 'https://tunedrop.dev/problems/';

export const PROBLEM_CODES = {
  invalid_json: { status: 400, title: 'The request body is not valid JSON' },
  invalid_request: { status: 400, title: 'The request does not match the schema' },
  invalid_signature: { status: 401, title: 'The webhook signature is missing or invalid' },
  unauthenticated: { status: 401, title: 'No valid credential was presented' },
  forbidden: { status: 403, title: 'Your role on this team does not allow this action' },
  not_found: { status: 404, title: 'No such resource' },
  drop_not_found: { status: 404, title: 'The dataset folder has no run.json' },
  run_not_cancellable: { status: 409, title: 'The run cannot be cancelled' },
  webhook_replayed: { status: 409, title: 'This webhook-id was already received' },
  delivery_not_failed: { status: 409, title: 'Only failed deliveries can be redelivered' },
  drop_rejected: { status: 422, title: 'The drop was rejected' },
  invalid_target_url: { status: 422, title: 'The webhook target URL is not allowed' },
  webhooks_unavailable: { status: 503, title: 'Webhook subscriptions are not available on this deployment' },
  dependency_unavailable: { status: 503, title: 'A service the app needs is not reachable' },
  internal_error: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEM_CODES;

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    code: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .catchall(z.unknown());
export type Problem = z.infer<typeof problemSchema>;

/** Thrown by route handlers (and the wrapper) to answer with a problem. */
export class ProblemError extends Error {
  readonly status: number;
  constructor(
    readonly code: ProblemCode,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    status?: number,
  ) {
    super(detail ?? PROBLEM_CODES[code].title);
    this.status = status ?? PROBLEM_CODES[code].status;
  }
}

export function problemBody(error: ProblemError, instance?: string): Problem {
  return {
    ...error.extensions,
    type: `${PROBLEM_TYPE_BASE}${error.code}`,
    title: PROBLEM_CODES[error.code].title,
    status: error.status,
    ...(error.detail ? { detail: error.detail } : {}),
    ...(instance ? { instance } : {}),
    code: error.code,
  };
}

/** zod issues as `{path, message}` pairs: where and what, never the offending value. */
export function issuesToErrors(
  issues: readonly z.core.$ZodIssue[],
  prefix: string,
): { path: string; message: string }[] {
  return issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter(Boolean).join('.'),
    message: issueMessage(issue),
  }));
}

/** zod's default messages for some issues include the received value; replace those with value-free text. */
function issueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `unknown ${issue.keys.length > 1 ? 'keys' : 'key'} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    default:
      return issue.message;
  }
}
