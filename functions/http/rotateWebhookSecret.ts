import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { rotateWebhookSecretRoute } from '../../shared/api/routes/webhooks';

export async function rotateWebhookSecret(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(rotateWebhookSecretRoute, request, context);
}

app.http(rotateWebhookSecretRoute.name, { ...httpOptions(rotateWebhookSecretRoute), handler: rotateWebhookSecret });
