import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { testWebhookRoute } from '../../shared/api/routes/webhooks';

export async function testWebhook(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(testWebhookRoute, request, context);
}

app.http(testWebhookRoute.name, { ...httpOptions(testWebhookRoute), handler: testWebhook });
