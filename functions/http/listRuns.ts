import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { listRunsRoute } from '../../shared/api/routes/runs';

export async function listRuns(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(listRunsRoute, request, context);
}

app.http(listRunsRoute.name, { ...httpOptions(listRunsRoute), handler: listRuns });
