import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleRoute, httpOptions } from '../../shared/api/functions';
import { cancelRunRoute } from '../../shared/api/routes/runs';

export async function cancelRun(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleRoute(cancelRunRoute, request, context);
}

app.http(cancelRunRoute.name, { ...httpOptions(cancelRunRoute), handler: cancelRun });
