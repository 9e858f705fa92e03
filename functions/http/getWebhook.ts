import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { getWebhookRoute } from '../../shared/api/routes/webhooks';

export async function getWebhook(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(getWebhookRoute, request, context);
}

app.http(getWebhookRoute.name, { ...httpOptions(getWebhookRoute), handler: getWebhook });
