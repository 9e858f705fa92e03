import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { getRunRoute } from '../../shared/api/routes/runs';

export async function getRun(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(getRunRoute, request, context);
}

app.http(getRunRoute.name, { ...httpOptions(getRunRoute), handler: getRun });
