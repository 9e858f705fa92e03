import { LocalHostError } from './errors';

/**
 * ASP.NET-style route templates as Azure Functions uses them: `runs/{id}`, `{id:int}`,
 * `{name?}`, `{*rest}`, `{id:guid}`, `{n:int:min(1)}` (only the type constraints are checked).
 */
type Segment =
  | { kind: 'literal'; text: string }
  | { kind: 'param'; name: string; optional: boolean; catchAll: boolean; constraints: string[] };

export interface RouteTemplate {
  template: string;
  segments: Segment[];
  /** Orders candidates: literal segments first, constrained before free, catch-all last. */
  precedence: number[];
}

export function parseRouteTemplate(template: string): RouteTemplate {
  const trimmed = template.replace(/^\/+|\/+$/g, '');
  const segments: Segment[] = [];
  const parts = trimmed === '' ? [] : trimmed.split('/');
  parts.forEach((part, index) => {
    const m = /^\{(\*{1,2})?([A-Za-z_][A-Za-z0-9_]*)((?::[^:?}=]+(?:\([^)]*\))?)*)(\?)?(?:=[^}]*)?\}$/.exec(part);
    if (m) {
      const catchAll = Boolean(m[1]);
      if (catchAll && index !== parts.length - 1) {
        throw new LocalHostError('invalid_binding', `route "${template}": a catch-all parameter must be last`);
      }
      const constraints = (m[3] ?? '')
        .split(':')
        .filter(Boolean)
        .map((c) => c.replace(/\(.*$/, '').toLowerCase());
      segments.push({
        kind: 'param',
        name: m[2] as string,
        optional: Boolean(m[4]) || catchAll,
        catchAll,
        constraints,
      });
    } else if (part.includes('{') || part.includes('}')) {
      throw new LocalHostError(
        'invalid_binding',
        `route "${template}": segment "${part}" mixes text and parameters, which the local host does not support`,
      );
    } else {
      segments.push({ kind: 'literal', text: part.toLowerCase() });
    }
  });
  const precedence = segments.map((s) => {
    if (s.kind === 'literal') return 0;
    if (s.catchAll) return 3;
    return s.constraints.length > 0 ? 1 : 2;
  });
  return { template: trimmed, segments, precedence };
}

/** Route parameters of a matching path (already split and URL-decoded), or undefined. */
export function matchRoute(route: RouteTemplate, pathSegments: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  let i = 0;
  for (const segment of route.segments) {
    if (segment.kind === 'literal') {
      if (pathSegments[i]?.toLowerCase() !== segment.text) return undefined;
      i++;
      continue;
    }
    if (segment.catchAll) {
      const rest = pathSegments.slice(i).join('/');
      if (rest) params[segment.name] = rest;
      i = pathSegments.length;
      continue;
    }
    const value = pathSegments[i];
    if (value === undefined || value === '') {
      if (!segment.optional) return undefined;
      continue;
    }
    if (!segment.constraints.every((c) => satisfies(c, value))) return undefined;
    params[segment.name] = value;
    i++;
  }
  return i === pathSegments.length ? params : undefined;
}

export function compareRoutes(a: RouteTemplate, b: RouteTemplate): number {
  const n = Math.max(a.precedence.length, b.precedence.length);
  for (let i = 0; i < n; i++) {
    const d = (a.precedence[i] ?? 4) - (b.precedence[i] ?? 4);
    if (d !== 0) return d;
  }
  return 0;
}

function satisfies(constraint: string, value: string): boolean {
  switch (constraint) {
    case 'int':
    case 'long':
      return /^-?\d+$/.test(value);
    case 'decimal':
    case 'double':
    case 'float':
      return /^-?(\d+\.?\d*|\.\d+)$/.test(value);
    case 'bool':
      return /^(true|false)$/i.test(value);
    case 'guid':
      return /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(value);
    case 'alpha':
      return /^[a-z]+$/i.test(value);
    case 'datetime':
      return !Number.isNaN(Date.parse(value));
    default:
      return true;
  }
}
