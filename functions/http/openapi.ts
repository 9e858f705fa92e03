import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { openApiRoute } from '../../shared/api/routes/index';

export async function openapi(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(openApiRoute, request, context);
}

app.http(openApiRoute.name, { ...httpOptions(openApiRoute), handler: openapi });
