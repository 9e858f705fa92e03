import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { listWebhooksRoute } from '../../shared/api/routes/webhooks';

export async function listWebhooks(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(listWebhooksRoute, request, context);
}

app.http(listWebhooksRoute.name, { ...httpOptions(listWebhooksRoute), handler: listWebhooks });
