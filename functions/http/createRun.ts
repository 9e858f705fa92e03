import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { createRunRoute } from '../../shared/api/routes/runs';

export async function createRun(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(createRunRoute, request, context);
}

app.http(createRunRoute.name, { ...httpOptions(createRunRoute), handler: createRun });
