import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { createWebhookRoute } from '../../shared/api/routes/webhooks';

export async function createWebhook(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(createWebhookRoute, request, context);
}

app.http(createWebhookRoute.name, { ...httpOptions(createWebhookRoute), handler: createWebhook });
