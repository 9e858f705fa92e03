import { randomUUID } from 'node:crypto';
import { LocalHostError } from './errors';

/** A blob trigger path such as `datasets/{team}/{dataset}/run.json`: container, then a blob-name pattern. */
export interface BlobPathPattern {
  path: string;
  container: string;
  /** Literal text before the first parameter: the listing prefix. */
  prefix: string;
  names: string[];
  match(blobName: string): Record<string, string> | undefined;
}

export function parseBlobPathPattern(path: string): BlobPathPattern {
  const slash = path.indexOf('/');
  const container = slash < 0 ? path : path.slice(0, slash);
  const blobPattern = slash < 0 ? '' : path.slice(slash + 1);
  if (!/^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$/.test(container) || container.includes('--')) {
    throw new LocalHostError('invalid_binding', `blob path "${path}": "${container}" is not a valid container name`);
  }
  const names: string[] = [];
  let regex = '';
  let prefix: string | undefined;
  const tokens = blobPattern.split(/(\{[^{}]*\})/);
  for (const token of tokens) {
    const param = /^\{([A-Za-z_][A-Za-z0-9_-]*)\}$/.exec(token);
    if (param) {
      prefix ??= literalBefore(tokens, token);
      names.push(param[1] as string);
      // Like Azure: a parameter may span folders (`{name}` matches `a/b.json`).
      regex += '(.+?)';
    } else if (token.includes('{') || token.includes('}')) {
      throw new LocalHostError('invalid_binding', `blob path "${path}": "${token}" is not a valid parameter`);
    } else {
      regex += token.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
    }
  }
  const matcher = new RegExp(`^${regex}$`);
  return {
    path,
    container,
    prefix: prefix ?? blobPattern,
    names,
    match(blobName) {
      const m = matcher.exec(blobName);
      if (!m) return undefined;
      const params: Record<string, string> = {};
      names.forEach((name, i) => {
        params[name] = m[i + 1] as string;
      });
      return params;
    },
  };
}

function literalBefore(tokens: string[], upTo: string): string {
  return tokens.slice(0, tokens.indexOf(upTo)).join('');
}

/**
 * Resolve `{name}` binding expressions in an input/output binding path from the trigger's binding
 * data, plus the built-ins `{rand-guid}` and `{DateTime}`.
 */
export function resolveBindingExpressions(template: string, data: Record<string, unknown>): string {
  const lowered = new Map(Object.entries(data).map(([k, v]) => [k.toLowerCase(), v]));
  return template.replace(/\{([^{}]+)\}/g, (_whole, expression: string) => {
    const key = expression.trim();
    if (key.toLowerCase() === 'rand-guid') return randomUUID();
    if (key.toLowerCase() === 'datetime') return new Date().toISOString().replace(/[:.]/g, '-');
    const value = lowered.get(key.toLowerCase());
    if (value === undefined || value === null || typeof value === 'object') {
      throw new LocalHostError(
        'invalid_binding',
        `binding expression "{${key}}" in "${template}" has no value in this invocation's trigger data`,
      );
    }
    return String(value);
  });
}
