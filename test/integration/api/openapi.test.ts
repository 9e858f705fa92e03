import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { API_ROUTES, openApiRoute } from '../../../shared/api/routes';
import { loadFunctionRegistrations } from '../../infra/functionRegistrations';
import { apiDeps, azuriteServices, invoke, REPO, RecordingDurableClient, realWebhookServices } from './support';

describe('GET /api/openapi.json', () => {
  const webhooks = realWebhookServices(inject('azurite').connectionString);
  const deps = apiDeps(azuriteServices(inject('azurite').connectionString), new RecordingDurableClient(), webhooks);
  let doc: {
    openapi: string;
    paths: Record<
      string,
      Record<string, { operationId: string; security: unknown[]; responses: Record<string, unknown> }>
    >;
    components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
  };
  let text: string;

  beforeAll(async () => {
    const res = await invoke(openApiRoute, deps);
    expect(res.status).toBe(200);
    text = res.text;
    doc = res.json() as typeof doc;
  });

  it('is a valid OpenAPI 3.1 document whose every $ref resolves', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const refs = [...text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) expect(doc.components.schemas, ref).toHaveProperty(ref);
    expect(doc.components.securitySchemes).toMatchObject({
      entraBearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      teamKeyHeader: { type: 'apiKey', in: 'header', name: 'x-functions-key' },
      teamKeyQuery: { type: 'apiKey', in: 'query', name: 'code' },
    });
  });

  it('documents every HTTP function the app registers, with its method and who may call it', async () => {
    const registered = (await loadFunctionRegistrations(path.join(REPO, 'functions'))).filter(
      (f) => f.trigger.type === 'httpTrigger',
    );
    expect(registered.length).toBe(API_ROUTES.length);
    for (const fn of registered) {
      const route = String(fn.trigger.route);
      const methods = (fn.trigger.methods as string[]).map((m) => m.toLowerCase());
      for (const method of methods) {
        const operation = doc.paths[`/api/${route}`]?.[method];
        expect(operation, `${fn.name}: ${method} /api/${route} is not in the OpenAPI document`).toBeDefined();
        expect(operation?.operationId).toBe(fn.name);
        // The app authenticates: the host's key check is off for every route; only public ones need no credential.
        expect(fn.trigger.authLevel).toBe('anonymous');
        const defined = API_ROUTES.find((r) => r.name === fn.name);
        expect(operation?.security.length === 0).toBe(defined?.access.kind === 'public');
        if (defined?.access.kind !== 'public') expect(operation?.responses).toHaveProperty('401');
      }
    }
    expect(Object.values(doc.paths).flatMap((p) => Object.keys(p)).length).toBe(registered.length);
  });

  it('describes errors as problem+json and never contains a secret', async () => {
    const created = await webhooks.subscriptions.create({ team: 'docs', url: 'https://example.com/hook' });
    const again = await invoke(openApiRoute, deps);
    expect(again.text).not.toContain(created.secret);
    expect(again.text).not.toContain(created.secret.slice(6));
    const getRun = doc.paths['/api/runs/{id}']?.get;
    expect(getRun?.responses['404']).toMatchObject({
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    });
  });
});
