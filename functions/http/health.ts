import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { healthRoute } from '../../shared/api/routes/index';

export async function health(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(healthRoute, request, context);
}

app.http(healthRoute.name, { ...httpOptions(healthRoute), handler: health });
