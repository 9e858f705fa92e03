import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { revokeTeamKeyRoute } from '../../shared/api/routes/keys';

export async function revokeTeamKey(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(revokeTeamKeyRoute, request, context);
}

app.http(revokeTeamKeyRoute.name, { ...httpOptions(revokeTeamKeyRoute), handler: revokeTeamKey });
