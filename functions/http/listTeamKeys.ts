import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { listTeamKeysRoute } from '../../shared/api/routes/keys';

export async function listTeamKeys(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(listTeamKeysRoute, request, context);
}

app.http(listTeamKeysRoute.name, { ...httpOptions(listTeamKeysRoute), handler: listTeamKeys });
