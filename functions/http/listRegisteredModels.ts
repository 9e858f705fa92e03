import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { listRegisteredModelsRoute } from '../../shared/api/routes/models';

export async function listRegisteredModels(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return handleRoute(listRegisteredModelsRoute, request, context);
}

app.http(listRegisteredModelsRoute.name, { ...httpOptions(listRegisteredModelsRoute), handler: listRegisteredModels });
