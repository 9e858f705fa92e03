import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { createTeamKeyRoute } from '../../shared/api/routes/keys';

export async function createTeamKey(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(createTeamKeyRoute, request, context);
}

app.http(createTeamKeyRoute.name, { ...httpOptions(createTeamKeyRoute), handler: createTeamKey });
