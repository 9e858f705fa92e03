import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { deleteWebhookRoute } from '../../shared/api/routes/webhooks';

export async function deleteWebhook(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(deleteWebhookRoute, request, context);
}

app.http(deleteWebhookRoute.name, { ...httpOptions(deleteWebhookRoute), handler: deleteWebhook });
