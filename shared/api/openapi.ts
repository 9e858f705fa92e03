import { z } from 'zod';
import { PROBLEM_MEDIA_TYPE } from './problem';
import type { AnyRoute } from './route';
import { API_COMPONENTS } from './schemas';

type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  jsonSchemaDialect: string;
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, unknown> };
  tags: { name: string; description: string }[];
}

const REF = (name: string) => `#/components/schemas/${name}`;
const JSON_SCHEMA_OPTIONS = { target: 'draft-2020-12', unrepresentable: 'any' } as const;
/** Any one of: an Entra ID (or Easy Auth) bearer token, or a team key in the header or the query. */
const API_SECURITY = [{ entraBearer: [] }, { teamKeyHeader: [] }, { teamKeyQuery: [] }];

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed JSON (invalid_json) or a query/path that does not match the schema (invalid_request)',
  401: 'No valid credential (unauthenticated: missing, expired, forged, wrong-audience or wrong-tenant token, unknown or revoked team key), or an invalid webhook signature',
  403: 'Your role on the team does not include this action (forbidden)',
  404: 'Not found: no such resource, or one of a team you have no role in',
  409: 'Conflict with the resource’s state',
  422: 'The body does not match the schema (invalid_request) or the drop was rejected (drop_rejected)',
  500: 'Internal error (details are logged, never returned)',
  503: 'Not available on this deployment',
};

/**
 * The OpenAPI 3.1 document, generated from the routes' zod schemas (zod 4 `z.toJSONSchema`, JSON
 * Schema 2020-12, which is OpenAPI 3.1's dialect). Shared schemas are components; a route's own
 * body/response schemas become components named after the route.
 */
export function buildOpenApiDocument(routes: readonly AnyRoute[], version = '0.1.0'): OpenApiDocument {
  const names = new Map<z.ZodType, string>(API_COMPONENTS);
  const nameFor = (schema: z.ZodType, fallback: string): string => {
    const known = names.get(schema);
    if (known) return known;
    names.set(schema, fallback);
    return fallback;
  };
  const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const parameters = [
      ...parametersOf(route.params, 'path'),
      ...parametersOf(route.query, 'query'),
      ...Object.entries(route.requestHeaders ?? {}).map(([name, description]) => ({
        name,
        in: 'header',
        required: false,
        description,
        schema: { type: 'string' },
      })),
    ];
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      responses[status] = {
        description: response.description,
        ...(response.headers
          ? {
              headers: Object.fromEntries(
                Object.entries(response.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }]),
              ),
            }
          : {}),
        ...(response.schema
          ? {
              content: {
                'application/json': {
                  schema: { $ref: REF(nameFor(response.schema, `${pascal(route.name)}Response${status}`)) },
                },
              },
            }
          : {}),
      };
    }
    const problemStatuses = new Set([
      ...(route.body || route.query || route.params ? [400] : []),
      ...(route.body ? [422] : []),
      ...(route.access.kind !== 'public' ? [401] : []),
      ...(route.problems ?? []),
      500,
    ]);
    for (const status of [...problemStatuses].sort()) {
      responses[String(status)] = {
        description: PROBLEM_DESCRIPTIONS[status] ?? 'Problem',
        content: { [PROBLEM_MEDIA_TYPE]: { schema: { $ref: REF('Problem') } } },
      };
    }
    const operation = {
      operationId: route.name,
      summary: route.summary,
      tags: route.tags,
      security: route.access.kind !== 'public' ? API_SECURITY : [],
      ...(parameters.length ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: {
                'application/json': { schema: { $ref: REF(nameFor(route.body, `${pascal(route.name)}Request`)) } },
              },
            },
          }
        : {}),
      responses,
    };
    const path = `/api/${route.route}`;
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation };
  }

  const registry = z.registry<{ id: string }>();
  for (const [schema, id] of names) registry.add(schema, { id });
  const converted = z.toJSONSchema(registry, { ...JSON_SCHEMA_OPTIONS, uri: REF }).schemas;
  const schemas: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(converted).sort(([a], [b]) => a.localeCompare(b))) {
    const { $schema: _dialect, $id: _id, ...rest } = schema as JsonSchema;
    schemas[id] = rest;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'tunedrop API',
      version,
      description:
        'Start and follow fine-tuning runs, browse the model catalog, and manage signed webhook subscriptions. ' +
        'Errors are RFC 9457 problem details (application/problem+json).',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: {
      schemas,
      securitySchemes: {
        entraBearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'Microsoft Entra ID access token for the API’s audience (roles/groups map to team roles)',
        },
        teamKeyHeader: {
          type: 'apiKey',
          in: 'header',
          name: 'x-functions-key',
          description: 'Team key (tdk_…), issued by POST /api/keys',
        },
        teamKeyQuery: { type: 'apiKey', in: 'query', name: 'code', description: 'Team key (tdk_…)' },
      },
    },
    tags: [
      { name: 'runs', description: 'Fine-tuning runs' },
      { name: 'models', description: 'The model catalog' },
      { name: 'webhooks', description: 'Signed outbound webhooks: subscriptions and deliveries' },
      { name: 'keys', description: 'Team keys for automation: scoped to one team and an action set' },
      { name: 'meta', description: 'Health and this document' },
    ],
  };
}

function parametersOf(schema: z.ZodType | undefined, where: 'path' | 'query'): Record<string, unknown>[] {
  if (!schema) return [];
  const json = z.toJSONSchema(schema, { ...JSON_SCHEMA_OPTIONS, io: 'input' }) as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (json.required ?? []).includes(name),
    schema: property,
  }));
}
