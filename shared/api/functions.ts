import type { HttpFunctionOptions, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { getServices } from '../compositionRoot';
import type { ApiDeps } from './deps';
import { type AnyRoute, toHttpHandler } from './route';

/** The deps of one invocation, from the process's composition root. */
export function apiDepsFor(context: InvocationContext): ApiDeps {
  return getServices().api(
    () => df.getClient(context),
    (message) => context.log(message),
  );
}

/** What functions/http/*.ts pass to app.http besides the handler. */
export function httpOptions(route: AnyRoute): Omit<HttpFunctionOptions, 'handler'> {
  return {
    route: route.route,
    methods: [route.method],
    authLevel: route.authLevel,
    ...(route.usesDurableClient ? { extraInputs: [df.input.durableClient()] } : {}),
  };
}

/** Run a route for one invocation (parsing, deps, problem+json). */
export function handleRoute(
  route: AnyRoute,
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return toHttpHandler(route, (_request, ctx) => apiDepsFor(ctx))(request, context);
}
