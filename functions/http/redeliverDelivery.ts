import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { redeliverRoute } from '../../shared/api/routes/webhooks';

export async function redeliverDelivery(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(redeliverRoute, request, context);
}

app.http(redeliverRoute.name, { ...httpOptions(redeliverRoute), handler: redeliverDelivery });
