import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { listModelsRoute } from '../../shared/api/routes/models';

export async function listModels(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(listModelsRoute, request, context);
}

app.http(listModelsRoute.name, { ...httpOptions(listModelsRoute), handler: listModels });
