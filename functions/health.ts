import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';

export async function health(_request: HttpRequest): Promise<HttpResponseInit> {
  return { status: 200, jsonBody: { status: 'ok', service: 'tunedrop' } };
}

app.http('health', { route: 'health', methods: ['GET'], authLevel: 'anonymous', handler: health });
