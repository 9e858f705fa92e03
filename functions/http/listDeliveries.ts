import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { listDeliveriesRoute } from '../../shared/api/routes/webhooks';

export async function listDeliveries(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(listDeliveriesRoute, request, context);
}

app.http(listDeliveriesRoute.name, { ...httpOptions(listDeliveriesRoute), handler: listDeliveries });
